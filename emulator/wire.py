"""STS's Query protocol on the wire: form parameters in, XML out.

Responses follow STS's shapes under its namespace, so botocore's query parser reads them
as it reads AWS's; errors are ``<ErrorResponse>`` documents, the only form botocore turns
into ``ClientError``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from urllib.parse import parse_qsl

from stsd.emulator.errors import StsError
from stsd.emulator.principals import Principal
from stsd.emulator.sts import TemporaryCredentials

__all__ = [
    "NAMESPACE",
    "VERSION",
    "assume_role_xml",
    "caller_identity_xml",
    "error_xml",
    "format_expiration",
    "parse_params",
    "session_token_xml",
]

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
VERSION = "2011-06-15"


def parse_params(query: str) -> dict[str, str]:
    """Query-protocol parameters from a form body or query string (first value wins)."""
    result: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        result.setdefault(key, value)
    return result


def format_expiration(when: datetime) -> str:
    # STS's form, and the only one every SDK parses: whole seconds, Z.
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _response(action: str) -> tuple[ET.Element, ET.Element]:
    root = ET.Element(f"{action}Response", xmlns=NAMESPACE)
    result = ET.SubElement(root, f"{action}Result")
    return root, result


def _finish(root: ET.Element, request_id: str) -> str:
    metadata = ET.SubElement(root, "ResponseMetadata")
    ET.SubElement(metadata, "RequestId").text = request_id
    return ET.tostring(root, encoding="unicode")


def _credentials(parent: ET.Element, credentials: TemporaryCredentials) -> None:
    node = ET.SubElement(parent, "Credentials")
    ET.SubElement(node, "AccessKeyId").text = credentials.access_key_id
    ET.SubElement(node, "SecretAccessKey").text = credentials.secret_access_key
    ET.SubElement(node, "SessionToken").text = credentials.session_token
    ET.SubElement(node, "Expiration").text = format_expiration(credentials.expiration)


def session_token_xml(credentials: TemporaryCredentials, request_id: str) -> str:
    root, result = _response("GetSessionToken")
    _credentials(result, credentials)
    return _finish(root, request_id)


def assume_role_xml(credentials: TemporaryCredentials, request_id: str) -> str:
    root, result = _response("AssumeRole")
    _credentials(result, credentials)
    user = ET.SubElement(result, "AssumedRoleUser")
    ET.SubElement(user, "AssumedRoleId").text = credentials.principal.user_id
    ET.SubElement(user, "Arn").text = credentials.principal.arn
    return _finish(root, request_id)


def caller_identity_xml(principal: Principal, request_id: str) -> str:
    root, result = _response("GetCallerIdentity")
    ET.SubElement(result, "UserId").text = principal.user_id
    ET.SubElement(result, "Account").text = principal.account
    ET.SubElement(result, "Arn").text = principal.arn
    return _finish(root, request_id)


def error_xml(error: StsError, request_id: str) -> str:
    root = ET.Element("ErrorResponse", xmlns=NAMESPACE)
    node = ET.SubElement(root, "Error")
    ET.SubElement(node, "Type").text = error.fault_type
    ET.SubElement(node, "Code").text = error.code
    ET.SubElement(node, "Message").text = error.message
    ET.SubElement(root, "RequestId").text = request_id
    return ET.tostring(root, encoding="unicode")
