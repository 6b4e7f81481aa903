"""`stsd credential-process PROFILE`: the daemon's credentials as `credential_process` JSON.

Tools that only read profiles (or a user who selects profiles with AWS_PROFILE) share the
daemon's session through a profile such as

    [profile prod-ro-stsd]
    credential_process = stsd credential-process prod-ro

The command asks the daemon's credentials endpoint, with the default token, exactly as
an SDK's container provider would, and prints the AWS `credential_process` format
(Version 1). It never talks to STS itself. On failure stdout stays empty (SDKs would
try to parse it), stderr holds one line saying what to do, and the exit code says why
(the same codes as every stsd command). Standard library only: SDKs run it at every
refresh.
"""

import argparse
import http.client
import json
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stsd.client.env import daemon_address
from stsd.client.output import fail
from stsd.client.paths import Paths
from stsd.client.settings import SettingsError, load_settings, parse_listen
from stsd.client.tokens import read_token

__all__ = ["EXIT_CODES", "CredentialsReply", "fetch_credentials", "process_json", "run"]

# The endpoint's error codes and the exit code each maps to: the ones of
# stsd.daemon.errors (test_credential_process checks they agree), plus the endpoint's own.
EXIT_CODES = {
    "NeedsMfa": 3,
    "SessionExpired": 3,
    "MfaCodeRejected": 4,
    "RoleDenied": 5,
    "StsUnavailable": 6,
    "StoreCorrupt": 7,
    "PromptUnavailable": 8,
    "ConfigError": 78,
    "UnknownProfile": 2,
}
_EXIT_DOWN = 1
_EXIT_CONFIG = 78
# The daemon holds a request at most 0.8 s; leave room for a slow laptop.
_TIMEOUT_SECONDS = 5.0
_FIELDS = ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")


@dataclass(frozen=True, slots=True)
class CredentialsReply:
    """What the endpoint answered: a status and its JSON body (empty if it had none)."""

    status: int
    body: dict[str, Any]


def fetch_credentials(address: str, profile: str, token: str) -> CredentialsReply:
    """GET /credentials/<profile> from the daemon at `address` (HOST:PORT).

    Raises:
        OSError: nothing answers there (refused, reset, timed out).
    """
    host, port = parse_listen(address)
    connection = http.client.HTTPConnection(host, port, timeout=_TIMEOUT_SECONDS)
    try:
        connection.request(
            "GET",
            "/credentials/" + urllib.parse.quote(profile, safe=""),
            headers={"Authorization": token, "Accept": "application/json"},
        )
        response = connection.getresponse()
        raw = response.read()
    except http.client.HTTPException as error:
        raise OSError(f"bad HTTP answer ({type(error).__name__})") from None
    finally:
        connection.close()
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    return CredentialsReply(response.status, body if isinstance(body, dict) else {})


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


def _not_running() -> int:
    return fail(
        "the stsd daemon is not running: start it with `stsd serve` "
        "(or `stsd service install` to start it at login)",
        _EXIT_DOWN,
    )


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    paths = Paths.from_env(env)
    try:
        settings = load_settings(paths.config_file)
    except SettingsError as error:
        return fail(str(error), _EXIT_CONFIG)
    address, running = daemon_address(paths, settings)
    if not running:
        return _not_running()
    token = read_token(paths.token_file)
    if token is None:
        return fail(
            f"no token in {paths.token_file} although the daemon runs: restart it (`stsd serve`)"
        )
    try:
        reply = fetch_credentials(address, args.profile, token)
    except OSError:
        return _not_running()
    if reply.status != 200:
        code = str(reply.body.get("code") or reply.body.get("Code") or "")
        message = reply.body.get("message") or reply.body.get("Message")
        if not isinstance(message, str) or not message:
            message = f"the daemon answered HTTP {reply.status}"
        return fail(message, EXIT_CODES.get(code, 1))
    document = process_json(reply.body)
    if document is None:
        return fail("the daemon's answer is not credentials (is another program on its port?)")
    sys.stdout.write(json.dumps(document) + "\n")
    return 0
