"""The IAM actions a bastion user needs for `stsd keys rotate`, as strict as the STS part.

CreateAccessKey, DeleteAccessKey and ListAccessKeys on the caller's own user, signed
with SigV4 for service `iam`, allowed only with MFA session credentials of that user:
the bastion policy's "manage your own keys with aws:MultiFactorAuthPresent". Long-term
keys, role sessions, sessions without MFA and other users' names are refused as IAM
refuses them. A user holds at most two keys (LimitExceeded).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime

from stsd.emulator.errors import StsError
from stsd.emulator.faults import IAM_ACTIONS
from stsd.emulator.keys import MAX_KEYS_PER_USER, AccessKey, AccessKeys
from stsd.emulator.sts import Caller

__all__ = ["IAM_ACTIONS", "IAM_NAMESPACE", "IAM_VERSION", "Iam"]

log = logging.getLogger(__name__)

IAM_VERSION = "2010-05-08"
IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"


class Iam:
    """Carries out the three IAM actions for an authenticated caller; answers XML."""

    def __init__(self, keys: AccessKeys) -> None:
        self._keys = keys

    def handle(
        self, action: str, caller: Caller, params: Mapping[str, str], request_id: str
    ) -> str:
        user = caller.principal.user
        self._authorize(action, caller, params)
        if action == "CreateAccessKey":
            key = self._keys.create(user)
            if key is None:
                raise StsError(
                    "LimitExceeded",
                    f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}",
                    409,
                )
            log.info("CreateAccessKey: ...%s for %s", key.access_key_id[-4:], user.arn)
            return _create_xml(key, request_id)
        if action == "DeleteAccessKey":
            key_id = params.get("AccessKeyId")
            if not key_id:
                raise StsError(
                    "ValidationError",
                    "1 validation error detected: Value null at 'accessKeyId' failed to "
                    "satisfy constraint: Member must not be null",
                    400,
                )
            if not self._keys.delete(user, key_id):
                raise StsError(
                    "NoSuchEntity", f"The Access Key with id {key_id} cannot be found.", 404
                )
            log.info("DeleteAccessKey: ...%s of %s", key_id[-4:], user.arn)
            return _empty_xml(action, request_id)
        return _list_xml(user.name, self._keys.of(user), request_id)

    def _authorize(self, action: str, caller: Caller, params: Mapping[str, str]) -> None:
        user = caller.principal.user
        named = params.get("UserName", user.name)
        session = caller.credentials
        allowed = (
            named == user.name
            and caller.principal.role is None
            and session is not None
            and session.kind == "session"
            and session.mfa_at is not None
        )
        if not allowed:
            raise StsError(
                "AccessDenied",
                f"User: {caller.principal.arn} is not authorized to perform: iam:{action} on "
                f"resource: user {named} because no identity-based policy allows the "
                f"iam:{action} action",
                403,
            )


def _element(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _envelope(action: str) -> tuple[ET.Element, ET.Element]:
    root = ET.Element(f"{action}Response", xmlns=IAM_NAMESPACE)
    return root, ET.SubElement(root, f"{action}Result")


def _finish(root: ET.Element, request_id: str) -> str:
    metadata = ET.SubElement(root, "ResponseMetadata")
    _element(metadata, "RequestId", request_id)
    return ET.tostring(root, encoding="unicode")


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _create_xml(key: AccessKey, request_id: str) -> str:
    root, result = _envelope("CreateAccessKey")
    node = ET.SubElement(result, "AccessKey")
    _element(node, "UserName", key.user.name)
    _element(node, "AccessKeyId", key.access_key_id)
    _element(node, "Status", "Active")
    _element(node, "SecretAccessKey", key.secret_access_key)
    _element(node, "CreateDate", _date(key.created))
    return _finish(root, request_id)


def _list_xml(user_name: str, keys: list[AccessKey], request_id: str) -> str:
    root, result = _envelope("ListAccessKeys")
    _element(result, "UserName", user_name)
    members = ET.SubElement(result, "AccessKeyMetadata")
    for key in keys:
        member = ET.SubElement(members, "member")
        _element(member, "UserName", user_name)
        _element(member, "AccessKeyId", key.access_key_id)
        _element(member, "Status", "Active")
        _element(member, "CreateDate", _date(key.created))
    _element(result, "IsTruncated", "false")
    return _finish(root, request_id)


def _empty_xml(action: str, request_id: str) -> str:
    root = ET.Element(f"{action}Response", xmlns=IAM_NAMESPACE)
    return _finish(root, request_id)
