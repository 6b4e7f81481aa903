"""The only code that talks to STS. boto3 calls run in worker threads, off the event loop.

No cache and no decisions here: each call returns frozen values or raises an error of
`stsd.daemon.errors`, already classified (transient, session gone, denied, bad code).
Endpoints follow botocore: the source profile's region, its regional endpoint, and
AWS_ENDPOINT_URL_STS when set.
"""

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers
import botocore.session

from stsd.daemon.errors import (
    ConfigError,
    MfaCodeRejected,
    RoleDenied,
    SessionExpired,
    StsdError,
    StsUnavailable,
)
from stsd.daemon.model import Credentials, RoleCredentials, RoleProfile, Session, SourceProfile

if TYPE_CHECKING:
    from mypy_boto3_sts.client import STSClient
    from mypy_boto3_sts.type_defs import CredentialsTypeDef

__all__ = ["Sts"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_DEFAULT_REGION = "us-east-1"
# A background flight may wait this long; requests stop waiting after 0.8 s anyway.
_CONNECT_TIMEOUT_SECONDS = 3.0
_READ_TIMEOUT_SECONDS = 10.0
_TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "RegionDisabledException",
}
# Everything between us and STS that can break without STS saying why: refused or reset
# connections, timeouts, and answers that aren't STS's (a captive portal, a proxy page).
_NETWORK_ERRORS = (
    botocore.exceptions.ConnectionError,  # refused, connect timeout, proxy
    botocore.exceptions.HTTPClientError,  # closed, read timeout
    botocore.parsers.ResponseParserError,
)
_CLIENT_CACHE_SIZE = 32


class Sts:
    """Makes STS calls with one reused boto3 session and a small cache of clients."""

    def __init__(
        self,
        clock: Callable[[], datetime] | None = None,
        connect_timeout: float = _CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = _READ_TIMEOUT_SECONDS,
    ) -> None:
        # Our own backoff (the broker's) replaces botocore's retries: a request never
        # waits more than 0.8 s, and degraded mode needs to see each failure.
        self._config = botocore.config.Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        core = botocore.session.get_session()
        # AWS_PROFILE in the daemon's environment must not break client creation:
        # every call passes its own credentials anyway.
        core.set_config_variable("profile", None)
        self._session = boto3.session.Session(botocore_session=core)
        self._clients: OrderedDict[tuple[str, str], STSClient] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = clock or (lambda: datetime.now(UTC))

    def _client(self, credentials: Credentials, region: str | None) -> "STSClient":
        key = (region or _DEFAULT_REGION, credentials.access_key_id)
        with self._lock:  # boto3 sessions aren't thread-safe for client creation
            client = self._clients.get(key)
            if client is None:
                client = self._session.client(
                    "sts",
                    region_name=key[0],
                    aws_access_key_id=credentials.access_key_id,
                    aws_secret_access_key=credentials.secret_access_key,
                    aws_session_token=credentials.session_token,
                    config=self._config,
                )
                self._clients[key] = client
                while len(self._clients) > _CLIENT_CACHE_SIZE:
                    self._clients.popitem(last=False)
            else:
                self._clients.move_to_end(key)
            return client

    async def get_session_token(
        self, source: SourceProfile, code: str, duration_seconds: int
    ) -> Session:
        """Exchange the source's long-term keys and an MFA code for a session."""

        def call() -> Session:
            client = self._client(source.keys, source.region)
            reply = client.get_session_token(
                DurationSeconds=duration_seconds,
                SerialNumber=source.mfa_serial,
                TokenCode=code,
            )
            credentials = _credentials(reply["Credentials"], account_id=None)
            user_arn = self._user_arn(credentials, source)
            return Session(
                source=source.name,
                credentials=_credentials(reply["Credentials"], account_id=user_arn.split(":")[4]),
                user_arn=user_arn,
                issued_at=self._clock(),
            )

        return await _run(call, _session_error(source))

    def _user_arn(self, session: Credentials, source: SourceProfile) -> str:
        """The IAM user's ARN (GetCallerIdentity needs no permission).

        The code is spent by now: if this call fails, fall back to the MFA device's name,
        which by convention is the user's, rather than lose the session.
        """
        try:
            return self._client(session, source.region).get_caller_identity()["Arn"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
            log.warning("GetCallerIdentity for %s failed (%s)", source.name, type(error).__name__)
            account = source.mfa_serial.split(":")[4] if source.mfa_serial.count(":") >= 5 else ""
            return f"arn:aws:iam::{account}:user/{source.mfa_serial.rsplit('/', 1)[-1]}"

    async def caller_arn(self, credentials: Credentials, region: str | None) -> str:
        """Who `credentials` belong to (GetCallerIdentity): proves a new key works."""

        def call() -> str:
            return self._client(credentials, region).get_caller_identity()["Arn"]

        def classify(code: str, message: str) -> StsdError:
            return ConfigError(f"STS does not accept the key ({code})")

        return await _run(call, classify)

    async def assume_role(
        self, role: RoleProfile, parent: Credentials, session_name: str, region: str | None
    ) -> RoleCredentials:
        """AssumeRole into `role` with `parent` credentials (a session or another role)."""

        def call() -> RoleCredentials:
            client = self._client(parent, region)
            kwargs: dict[str, str | int] = {
                "RoleArn": role.role_arn,
                "RoleSessionName": session_name,
                "DurationSeconds": int(role.duration.total_seconds()),
            }
            if role.external_id:
                kwargs["ExternalId"] = role.external_id
            reply = client.assume_role(**kwargs)  # type: ignore[arg-type]
            arn = reply["AssumedRoleUser"]["Arn"]
            account = arn.split(":")[4]
            return RoleCredentials(
                profile=role.name,
                credentials=_credentials(reply["Credentials"], account_id=account),
                assumed_role_arn=arn,
                issued_at=self._clock(),
            )

        return await _run(call, _assume_error(role))


def _credentials(raw: "CredentialsTypeDef", account_id: str | None) -> Credentials:
    expiration = raw["Expiration"]
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    return Credentials(
        access_key_id=raw["AccessKeyId"],
        secret_access_key=raw["SecretAccessKey"],
        session_token=raw["SessionToken"],
        expiration=expiration.astimezone(UTC),
        account_id=account_id,
    )


ErrorMapper = Callable[[str, str], StsdError]


async def _run(call: Callable[[], T], classify: ErrorMapper) -> T:
    try:
        return await asyncio.to_thread(call)
    except botocore.exceptions.ClientError as error:
        info = error.response.get("Error", {})
        code = info.get("Code", "Unknown")
        message = info.get("Message", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _TRANSIENT_CODES or status >= 500:
            raise StsUnavailable(f"STS is failing ({code}); retrying with backoff") from None
        raise classify(code, message) from None
    except _NETWORK_ERRORS as error:
        raise StsUnavailable(
            f"can't reach STS ({type(error).__name__}); retrying with backoff"
        ) from None


def _session_error(source: SourceProfile) -> ErrorMapper:
    def classify(code: str, message: str) -> StsdError:
        if code == "AccessDenied" and "MultiFactorAuthentication" in message:
            return MfaCodeRejected(
                f"STS rejected the MFA code for {source.name} ({source.mfa_serial}): "
                "wait for the next code and run `stsd login` again"
            )
        if code in {"InvalidClientTokenId", "SignatureDoesNotMatch"}:
            return ConfigError(
                f"STS does not accept the keys of {source.name} ({code}): check them in "
                f"{source.keys_origin}"
            )
        return ConfigError(f"GetSessionToken for {source.name} failed: {code}: {message}")

    return classify


def _assume_error(role: RoleProfile) -> ErrorMapper:
    def classify(code: str, message: str) -> StsdError:
        if code in {"ExpiredToken", "InvalidClientTokenId"}:
            return SessionExpired(
                f"the MFA session of {role.source} is no longer valid ({code}): "
                f"run `stsd login {role.source}`"
            )
        if code == "AccessDenied":
            # The broker adds the aws:MultiFactorAuthAge hint when it is late in a session.
            return RoleDenied(
                f"STS denied AssumeRole into {role.role_arn} for profile {role.name}: check "
                "that the role's trust policy admits the bastion user with MFA"
            )
        return RoleDenied(
            f"AssumeRole into {role.role_arn} for profile {role.name} failed: {code}: {message}"
        )

    return classify
