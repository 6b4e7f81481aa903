"""Helpers for the emulator's tests: boto3 clients, raw signed requests, a frozen clock."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import boto3
import pyotp
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from mypy_boto3_sts import STSClient
from mypy_boto3_sts.type_defs import CredentialsTypeDef

from stsd.emulator.config import DEMO_CONFIG, User
from stsd.emulator.embedded import EmbeddedEmulator

__all__ = [
    "ALICE",
    "DEPLOY",
    "POWER_USER",
    "READ_ONLY",
    "REGION",
    "FrozenClock",
    "client_error",
    "mfa_session",
    "raw_sts",
    "sts_client",
    "sts_for",
    "user_client",
]

REGION = "us-east-1"
ALICE = DEMO_CONFIG.users[0]
READ_ONLY = "arn:aws:iam::222222222222:role/ReadOnly"
POWER_USER = "arn:aws:iam::222222222222:role/PowerUser"
DEPLOY = "arn:aws:iam::333333333333:role/path/Deploy"

# One botocore session for all clients: it caches the loaded service model, which makes
# creating a client cheap.
_SESSION = boto3.session.Session()


class FrozenClock:
    """A clock that stands still in the middle of a TOTP step, near the real time.

    Near real time so that boto3's signatures (real clock) pass the 15-minute check; in
    the middle of a 30 s step so that "one step earlier" and "one step later" are exact.
    """

    def __init__(self) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
        self.now = now - timedelta(seconds=now.timestamp() % 30) + timedelta(seconds=15)

    def __call__(self) -> datetime:
        return self.now

    def code(self, user: User, steps: int = 0) -> str:
        """The code ``user``'s device shows ``steps`` steps from now."""
        return str(pyotp.TOTP(user.totp_seed).at(self.now, counter_offset=steps))


def sts_client(
    url: str,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None = None,
    *,
    validate: bool = True,
) -> STSClient:
    """A boto3 STS client for the emulator; no retries (``total_max_attempts``: botocore's
    ``max_attempts`` counts retries only), so every call is one request.

    ``validate=False`` turns off botocore's own parameter checks, to reach the
    emulator's (botocore refuses e.g. DurationSeconds under 900 before sending).
    """
    return _SESSION.client(
        "sts",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=validate),
    )


def user_client(emu: EmbeddedEmulator, user: User = ALICE, *, validate: bool = True) -> STSClient:
    """A client with ``user``'s long-term keys."""
    return sts_client(emu.url, user.access_key_id, user.secret_access_key, validate=validate)


def sts_for(
    emu: EmbeddedEmulator, credentials: CredentialsTypeDef, *, validate: bool = True
) -> STSClient:
    """A client with temporary credentials the emulator issued."""
    return sts_client(
        emu.url,
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
        validate=validate,
    )


def mfa_session(emu: EmbeddedEmulator, user: User = ALICE, **kwargs: int) -> CredentialsTypeDef:
    """Session credentials from GetSessionToken with a fresh code (MFA present)."""
    reply = user_client(emu, user).get_session_token(
        SerialNumber=user.mfa_serial, TokenCode=emu.control.code(user.name), **kwargs
    )
    return reply["Credentials"]


def client_error(call: Callable[[], object]) -> tuple[str, str, int]:
    """Run ``call``, which must raise ClientError; return its code, message, HTTP status."""
    with pytest.raises(ClientError) as excinfo:
        call()
    response = excinfo.value.response
    error = response.get("Error", {})
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error.get("Code", ""), error.get("Message", ""), status


def raw_sts(
    url: str,
    params: dict[str, str],
    user: User = ALICE,
    *,
    method: str = "POST",
    sign: bool = True,
    tamper: Callable[[AWSRequest], None] | None = None,
) -> tuple[int, str]:
    """Send an STS request by hand, signed with botocore's SigV4 signer; return status, body.

    ``tamper`` may change the request after it was signed.
    """
    query = urlencode(params)
    if method == "GET":
        request = AWSRequest(method="GET", url=f"{url}/?{query}")
    else:
        request = AWSRequest(
            method="POST",
            url=f"{url}/",
            data=query.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
    if sign:
        SigV4Auth(Credentials(user.access_key_id, user.secret_access_key), "sts", REGION).add_auth(
            request
        )
    if tamper is not None:
        tamper(request)
    prepared = request.prepare()
    wire = urllib.request.Request(  # noqa: S310 - the emulator on loopback
        prepared.url,
        data=request.data if isinstance(request.data, bytes) else None,
        headers=dict(prepared.headers.items()),
        method=method,
    )
    try:
        with urllib.request.urlopen(wire, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()
