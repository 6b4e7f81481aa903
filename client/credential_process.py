"""`stsd credential-process PROFILE`: the daemon's credentials as `credential_process` JSON.

Tools that only read profiles (or a user who picks profiles with AWS_PROFILE) share the
daemon's session through a profile of their own:

    [profile prod-ro-stsd]
    credential_process = stsd credential-process prod-ro

The command asks the daemon's credentials endpoint with the default token, as an SDK's
container provider would, and prints the AWS `credential_process` format (Version 1).
It never talks to STS itself. On failure stdout stays empty (an SDK would parse it),
stderr holds one line saying what to do (botocore and the AWS CLI show it), and the exit
code says why, as for every stsd command. Standard library only: SDKs run it at every
refresh (no `typing` at run time either).
"""

from __future__ import annotations

import json
import sys

from stsd.client.endpoint import EndpointError, fetch_role_credentials
from stsd.client.output import fail
from stsd.client.paths import Paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping
    from typing import Any

__all__ = ["process_json", "run"]

_FIELDS = ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")


def process_json(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The credential_process document for an endpoint body, or None if it's malformed."""
    if not all(isinstance(body.get(name), str) and body[name] for name in _FIELDS):
        return None
    document: dict[str, Any] = {
        "Version": 1,
        "AccessKeyId": body["AccessKeyId"],
        "SecretAccessKey": body["SecretAccessKey"],
        "SessionToken": body["Token"],
        "Expiration": body["Expiration"],
    }
    if isinstance(body.get("AccountId"), str) and body["AccountId"]:
        document["AccountId"] = body["AccountId"]
    return document


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    try:
        body = fetch_role_credentials(Paths.from_env(env), args.profile)
    except EndpointError as error:
        return fail(str(error), error.exit_code)
    document = process_json(body)
    if document is None:
        return fail("the daemon's answer holds no credentials (another program on its port?)")
    sys.stdout.write(json.dumps(document) + "\n")
    return 0
