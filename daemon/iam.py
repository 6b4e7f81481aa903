"""The only code that talks to IAM: a bastion user's own access keys, for `keys rotate`.

Like `sts`, boto3 calls run in worker threads and errors come back classified. The
calls are signed with the user's MFA session (the bastion policy lets a user manage
their own keys only with MFA). AWS_ENDPOINT_URL_IAM is honoured, as botocore does.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import boto3
import botocore.config
import botocore.exceptions
import botocore.session

from stsd.daemon.errors import ConfigError, StsdError, StsUnavailable
from stsd.daemon.model import Credentials

if TYPE_CHECKING:
    from mypy_boto3_iam.client import IAMClient

__all__ = ["Iam"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# IAM is global; its endpoint lives in us-east-1 (aws partition).
_REGION = "us-east-1"
_CLIENT_CONFIG = botocore.config.Config(
    retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=10
)


class Iam:
    """CreateAccessKey, DeleteAccessKey and ListAccessKeys for the calling user."""

    def __init__(self) -> None:
        core = botocore.session.get_session()
        core.set_config_variable("profile", None)  # every call passes its own credentials
        self._session = boto3.session.Session(botocore_session=core)

    def _client(self, session: Credentials) -> "IAMClient":
        return self._session.client(
            "iam",
            region_name=_REGION,
            aws_access_key_id=session.access_key_id,
            aws_secret_access_key=session.secret_access_key,
            aws_session_token=session.session_token,
            config=_CLIENT_CONFIG,
        )

    async def create_access_key(self, session: Credentials) -> Credentials:
        """A new long-term key for the user behind `session`."""

        def call() -> Credentials:
            key = self._client(session).create_access_key()["AccessKey"]
            return Credentials(key["AccessKeyId"], key["SecretAccessKey"])

        return await _run(call, "CreateAccessKey")

    async def delete_access_key(self, session: Credentials, access_key_id: str) -> None:
        def call() -> None:
            self._client(session).delete_access_key(AccessKeyId=access_key_id)

        await _run(call, "DeleteAccessKey")

    async def list_access_keys(self, session: Credentials) -> list[str]:
        def call() -> list[str]:
            reply = self._client(session).list_access_keys()
            return [k["AccessKeyId"] for k in reply["AccessKeyMetadata"]]

        return await _run(call, "ListAccessKeys")


async def _run(call: Callable[[], T], action: str) -> T:
    try:
        return await asyncio.to_thread(call)
    except botocore.exceptions.ClientError as error:
        info = error.response.get("Error", {})
        code = info.get("Code", "Unknown")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if status >= 500 or code in {"Throttling", "ServiceFailure"}:
            raise StsUnavailable(f"IAM is failing ({code}); try again later") from None
        raise _classify(action, code, info.get("Message", "")) from None
    except botocore.exceptions.BotoCoreError as error:
        raise StsUnavailable(f"can't reach IAM ({type(error).__name__})") from None


def _classify(action: str, code: str, message: str) -> StsdError:
    if code == "LimitExceeded":
        return ConfigError(
            f"{action}: the user already has two access keys (IAM's limit): delete the one "
            "stsd does not use in the IAM console, then rotate again"
        )
    if code in {"AccessDenied", "AccessDeniedException"}:
        return ConfigError(
            f"{action} was denied: the bastion policy must let users manage their own access "
            "keys with MFA (`stsd policy bastion`)"
        )
    return ConfigError(f"{action} failed: {code}: {message}")
