"""Long-term keys and TOTP seeds in the encrypted store: `stsd keys ...`, `stsd mfa totp ...`.

The imperative shell for these commands: it moves keys between ~/.aws/credentials and
the store, rotates them through IAM, and keeps the running service's keys in step.
Order matters everywhere here, so nothing is ever lost:
- import: the store is written (and fsynced) before the keys leave the file;
- rotate: the new key is verified with STS and written to the store before IAM deletes
  the old one; a new key that does not work is deleted again and the old one stays;
- a seed is stored only after a code from it logged in (it matches the device).
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stsd.daemon import credentials_file
from stsd.daemon.config import STORE_ORIGIN
from stsd.daemon.errors import ConfigError, MfaCodeRejected, NeedsMfa, StsdError
from stsd.daemon.iam import Iam
from stsd.daemon.model import Credentials, mask_key_id
from stsd.daemon.prompts.totp import SeedError, TotpPrompt, parse_seed
from stsd.daemon.service import CredentialService
from stsd.daemon.sts import Sts
from stsd.daemon.vault import Vault

__all__ = ["KeyManager"]

log = logging.getLogger(__name__)

# New IAM keys take a few seconds to work everywhere (eventual consistency).
_VERIFY_ATTEMPTS = 8
_VERIFY_PAUSE_SECONDS = 2.0
_NO_KEYS = "nowhere (removed by `stsd keys remove`)"


class KeyManager:
    """Carries out `keys import|list|remove|rotate` and `mfa totp add|remove`."""

    def __init__(
        self,
        service: CredentialService,
        vault: Vault,
        sts: Sts,
        iam: Iam,
        credentials_path: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._service = service
        self._vault = vault
        self._sts = sts
        self._iam = iam
        self._path = credentials_path
        self._clock = clock
        self.totp = TotpPrompt(vault.seeds, clock)
        self._lock = asyncio.Lock()

    # -- keys -------------------------------------------------------------------------

    def list(self) -> list[dict[str, Any]]:
        """Every source's key id (masked) and where it lives."""
        stored = self._vault.stored_keys()
        entries = []
        for name, source in sorted(self._service.config.sources.items()):
            entries.append(
                {
                    "source": name,
                    "access_key_id": mask_key_id(source.keys.access_key_id),
                    "where": "store" if name in stored else source.keys_origin,
                    "stored_at": _iso(stored[name].stored_at) if name in stored else None,
                    "totp": name in self._vault.seeds(),
                }
            )
        for name, key in sorted(stored.items()):
            if name not in self._service.config.sources:
                entries.append(
                    {
                        "source": name,
                        "access_key_id": mask_key_id(key.credentials.access_key_id),
                        "where": "store",
                        "stored_at": _iso(key.stored_at),
                        "totp": name in self._vault.seeds(),
                        "note": "no role profile uses this source profile",
                    }
                )
        return entries

    async def import_keys(self, section: str | None) -> dict[str, Any]:
        """Move `[section]`'s keys from the credentials file into the store."""
        async with self._lock:
            name = section or self._service.source_named(None).name
            found = credentials_file.read_keys(self._path, name)
            if found is None:
                if name in self._vault.stored_keys():
                    raise ConfigError(f"the keys of {name} are already in the store")
                raise ConfigError(f"{self._path} holds no keys under [{name}]")
            keys = Credentials(found.access_key_id, found.secret_access_key)
            self._vault.put_keys(name, keys, self._clock())  # raises: the file stays as it was
            try:
                credentials_file.remove_keys(self._path, name)
            except OSError as error:
                raise ConfigError(
                    f"the keys of {name} are in the store now, but {self._path} can't be "
                    f"rewritten ({error.strerror}): delete them from it by hand"
                ) from None
            if name in self._service.config.sources:
                self._service.replace_keys(name, keys, STORE_ORIGIN)
            log.info("keys of %s (%s) moved into the store", name, mask_key_id(keys.access_key_id))
            return {
                "source": name,
                "access_key_id": mask_key_id(keys.access_key_id),
                "file": str(self._path),
                "used": name in self._service.config.sources,
            }

    async def remove_keys(self, section: str | None) -> dict[str, Any]:
        """Forget a source's stored key; the daemon falls back to the credentials file."""
        async with self._lock:
            name = section or self._service.source_named(None).name
            if not self._vault.remove_keys(name):
                raise ConfigError(f"the store holds no keys for {name}")
            fallback = None
            with contextlib.suppress(ConfigError):
                fallback = credentials_file.read_keys(self._path, name)
            if name in self._service.config.sources:
                if fallback is not None:
                    keys = Credentials(fallback.access_key_id, fallback.secret_access_key)
                    self._service.replace_keys(name, keys, str(self._path))
                else:
                    self._service.replace_keys(name, Credentials("", ""), _NO_KEYS)
            log.info("keys of %s removed from the store", name)
            return {"source": name, "fallback": str(self._path) if fallback else None}

    async def rotate_keys(self, section: str | None) -> dict[str, Any]:
        """A new key through IAM, verified and stored, then the old one deleted."""
        async with self._lock:
            source = self._service.source_named(section)
            stored = self._vault.stored_keys().get(source.name)
            if stored is None:
                raise ConfigError(
                    f"the keys of {source.name} are not in the store: run "
                    f"`stsd keys import {source.name}` first, then rotate"
                )
            session = self._service.live_session(source.name)
            if session is None:
                raise NeedsMfa(
                    f"rotating a key needs an MFA session: run `stsd login {source.name}`, "
                    "then rotate again"
                )
            old = stored.credentials
            new = await self._iam.create_access_key(session.credentials)
            log.info(
                "source %s: created key %s; verifying it",
                source.name,
                mask_key_id(new.access_key_id),
            )
            try:
                await self._verify(new, source.region, session.user_arn)
                self._vault.put_keys(source.name, new, self._clock())
            except StsdError as error:
                with contextlib.suppress(StsdError):
                    await self._iam.delete_access_key(session.credentials, new.access_key_id)
                raise type(error)(
                    f"{error.message}; the new key was deleted again, the old one stays"
                ) from None
            self._service.replace_keys(source.name, new, STORE_ORIGIN)
            try:
                await self._iam.delete_access_key(session.credentials, old.access_key_id)
            except StsdError as error:
                raise type(error)(
                    f"the new key {mask_key_id(new.access_key_id)} is in use, but deleting "
                    f"the old one {mask_key_id(old.access_key_id)} failed: {error.message}; "
                    "delete it in the IAM console"
                ) from None
            log.info(
                "source %s: rotated %s -> %s",
                source.name,
                mask_key_id(old.access_key_id),
                mask_key_id(new.access_key_id),
            )
            return {
                "source": source.name,
                "old": mask_key_id(old.access_key_id),
                "new": mask_key_id(new.access_key_id),
            }

    async def _verify(self, key: Credentials, region: str | None, user_arn: str) -> None:
        for attempt in range(_VERIFY_ATTEMPTS):
            try:
                arn = await self._sts.caller_arn(key, region)
            except ConfigError:
                if attempt == _VERIFY_ATTEMPTS - 1:
                    raise ConfigError("STS does not accept the new key") from None
                await asyncio.sleep(_VERIFY_PAUSE_SECONDS)
                continue
            if arn != user_arn:
                raise ConfigError(f"the new key belongs to {arn}, not to {user_arn}")
            return

    # -- TOTP seeds -------------------------------------------------------------------

    async def add_seed(self, section: str | None, text: str) -> dict[str, Any]:
        """Check a seed by logging in with its code, then keep it encrypted."""
        source = self._service.source_named(section)
        try:
            seed = parse_seed(text)
        except SeedError as error:
            raise ConfigError(str(error)) from None
        code = await self.totp.code(source.name, seed)
        try:
            session = await self._service.login(source.name, code)
        except MfaCodeRejected:
            raise MfaCodeRejected(
                f"STS rejected the code this seed gives for {source.mfa_serial}: is it that "
                "device's seed, and is this machine's clock right? Nothing was stored"
            ) from None
        self._vault.put_seed(source.name, seed)
        log.info("source %s: TOTP seed stored (it logged in)", source.name)
        return {
            "source": source.name,
            "mfa_serial": source.mfa_serial,
            "session_expires": _iso(session.credentials.expiration),
        }

    def remove_seed(self, section: str | None) -> dict[str, Any]:
        name = section or self._service.source_named(None).name
        if not self._vault.remove_seed(name):
            raise ConfigError(f"the store holds no TOTP seed for {name}")
        log.info("source %s: TOTP seed removed", name)
        return {"source": name}


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
