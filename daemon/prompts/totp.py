"""The TOTP driver: MFA codes from a seed kept in the encrypted store (opt-in).

Keeping the seed on this disk moves the second factor onto it: whoever gets the disk and
the master key has both factors. It is for users who accept that for convenience; the
README says so.

Invariant: a code is never handed out twice. STS rejects a reused code, so after a code
of a time step was handed out, the next request for that source waits for the next step.
"""

import asyncio
import base64
import binascii
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import ClassVar

import pyotp

from stsd.daemon.errors import PromptUnavailable
from stsd.daemon.prompts.base import DriverContext, PromptRequest
from stsd.daemon.vault import TotpSeed, Vault

__all__ = ["SeedError", "TotpPrompt", "parse_seed"]

# What an AWS virtual MFA device is: 6 digits every 30 s, HMAC-SHA1 (RFC 6238 defaults).
_AWS_DIGITS = 6
_AWS_PERIOD = 30
_AWS_ALGORITHM = "SHA1"
_MIN_SECRET_BYTES = 10  # RFC 4226 asks for at least 128 bits, AWS gives 320; 80 is a floor


class SeedError(ValueError):
    """A seed that can't be used; the message never quotes the seed."""


def parse_seed(text: str) -> TotpSeed:
    """A base32 seed or an `otpauth://totp/...` URI, checked to fit an AWS MFA device.

    Raises:
        SeedError: not base32, too short, or a URI for something AWS does not accept.
    """
    text = text.strip()
    if text.lower().startswith("otpauth://"):
        return _from_uri(text)
    return TotpSeed(_secret(text))


def _secret(raw: str) -> str:
    secret = re.sub(r"[\s-]", "", raw).upper().rstrip("=")
    if not secret:
        raise SeedError("no seed given: pipe a base32 seed or an otpauth:// URI into stdin")
    if not re.fullmatch(r"[A-Z2-7]+", secret):
        raise SeedError("the seed is not base32 (letters A-Z and digits 2-7)")
    try:
        decoded = base64.b32decode(secret + "=" * (-len(secret) % 8))
    except binascii.Error:
        raise SeedError("the seed is not valid base32 (wrong length?)") from None
    if len(decoded) < _MIN_SECRET_BYTES:
        raise SeedError(f"the seed is too short ({len(decoded)} bytes; at least 10)")
    return secret


def _from_uri(uri: str) -> TotpSeed:
    parsed = urllib.parse.urlsplit(uri)
    if parsed.netloc.lower() != "totp":
        raise SeedError("the URI is not otpauth://totp/... (HOTP counters are not supported)")
    query = urllib.parse.parse_qs(parsed.query)

    def single(name: str, default: str) -> str:
        values = query.get(name, [default])
        if len(values) != 1:
            raise SeedError(f"the URI names {name} more than once")
        return values[0]

    secret = _secret(single("secret", ""))
    digits, period = single("digits", "6"), single("period", "30")
    algorithm = single("algorithm", "SHA1").upper()
    if digits != str(_AWS_DIGITS) or period != str(_AWS_PERIOD) or algorithm != _AWS_ALGORITHM:
        raise SeedError(
            f"AWS MFA devices use 6 digits, 30 s and SHA1; this URI says {digits} digits, "
            f"{period} s, {algorithm}"
        )
    return TotpSeed(secret)


class TotpPrompt:
    """Generates codes from stored seeds; waits for the next step rather than repeat one."""

    name: ClassVar[str] = "totp"

    def __init__(
        self,
        seeds: Callable[[], Mapping[str, TotpSeed]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        source: str | None = None,
    ) -> None:
        self._seeds = seeds
        self._source = source  # the one source this driver asks for (None: any)
        self._clock = clock
        self._sleep = sleep
        self._last_step: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def create(cls, context: DriverContext) -> "TotpPrompt":
        """The driver for one source, reading seeds from the daemon's store (if any)."""
        store = context.store
        seeds: Callable[[], Mapping[str, TotpSeed]] = (
            store.seeds if isinstance(store, Vault) else dict
        )
        return cls(seeds, source=context.source.name)

    def unavailable_reason(self) -> str | None:
        seeds = self._seeds()
        if self._source is None and not seeds:
            return "no TOTP seed in the encrypted store (`stsd mfa totp add SOURCE`)"
        if self._source is not None and self._source not in seeds:
            return (
                f"no TOTP seed for {self._source} in the encrypted store "
                f"(opt-in: `stsd mfa totp add {self._source}`)"
            )
        return None

    async def prompt(self, request: PromptRequest) -> str | None:
        """A fresh code for `request.source`'s device.

        Raises:
            PromptUnavailable: the source has no seed (anymore).
        """
        seed = self._seeds().get(request.source)
        if seed is None:
            raise PromptUnavailable(f"no TOTP seed for {request.source} in the encrypted store")
        return await self.code(request.source, seed)

    async def code(self, source: str, seed: TotpSeed) -> str:
        """The current step's code, or the next step's once it starts if this one is used."""
        totp = pyotp.TOTP(seed.secret, digits=seed.digits, interval=seed.period)
        lock = self._locks.setdefault(source, asyncio.Lock())
        async with lock:
            while True:
                now = self._clock()
                step = int(totp.timecode(now))
                if step > self._last_step.get(source, -1):
                    self._last_step[source] = step
                    return str(totp.at(now))
                next_start = (step + 1) * seed.period
                await self._sleep(max(next_start - now.timestamp(), 0.01))
