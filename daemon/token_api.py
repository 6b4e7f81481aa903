"""Control API routes for tokens (Unix socket, our user only).

    POST   /v1/tokens            {"profile", "label"}           -> a scoped token and its lease
    POST   /v1/tokens/{id}       {"token", "profile", "label"}  -> renew (or restore) the lease
    DELETE /v1/tokens/{id}                                      -> revoke now
    POST   /v1/token/rotate                                     -> new default token file

The token file is written before the new token is accepted, in one step of the event
loop: no request sees a token in the file that the daemon would refuse.
"""

import json
import logging
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from stsd.client.tokens import new_token, write_token
from stsd.daemon.control_api import STATUS_PARTS
from stsd.daemon.server import SERVICE, json_response
from stsd.daemon.tokens import LeaseConflict, TokenRegistry

__all__ = ["add_token_routes"]

log = logging.getLogger(__name__)

REGISTRY = web.AppKey("token_registry", TokenRegistry)
TOKEN_FILE = web.AppKey("token_file", Path)

_EXIT_USAGE = 2
# A label ends up in the audit log: short and printable, nothing that could forge a line.
_LABEL = re.compile(r"[\x20-\x7e]{1,100}")


def _error(status: int, code: str, message: str, exit_code: int = 1) -> web.Response:
    body = {"code": code, "message": message, "Code": code, "Message": message}
    return json_response({**body, "exit_code": exit_code}, status)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(reason="Body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="Body is not a JSON object")
    return body


def _field(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise web.HTTPBadRequest(reason=f"{key} must be a non-empty string")
    return value


def _scope(request: web.Request, body: dict[str, Any]) -> tuple[str, str] | web.Response:
    profile = _field(body, "profile")
    label = _field(body, "label")
    if not _LABEL.fullmatch(label):
        raise web.HTTPBadRequest(reason="label must be 1-100 printable ASCII characters")
    service = request.app[SERVICE]
    if not service.knows(profile):
        known = ", ".join(sorted(service.config.roles)) or "none"
        return _error(
            404,
            "UnknownProfile",
            f"no role profile {profile!r} in the configuration; known: {known}",
            _EXIT_USAGE,
        )
    return profile, label


async def _issue(request: web.Request) -> web.Response:
    scope = _scope(request, await _body(request))
    if isinstance(scope, web.Response):
        return scope
    lease = request.app[REGISTRY].issue(*scope)
    log.info("token %s: issued for profile %s", lease.grant.label, lease.grant.profile)
    return json_response(
        {
            "id": lease.id,
            "token": lease.token,
            "profile": lease.grant.profile,
            "label": lease.grant.label,
            "lease_seconds": lease.seconds,
        },
        201,
    )


async def _renew(request: web.Request) -> web.Response:
    body = await _body(request)
    scope = _scope(request, body)
    if isinstance(scope, web.Response):
        return scope
    registry = request.app[REGISTRY]
    lease_id = request.match_info["lease_id"]
    try:
        restored = registry.renew(lease_id, _field(body, "token"), *scope)
    except LeaseConflict as error:
        return _error(409, "LeaseConflict", str(error))
    if restored:
        log.info("token %s: lease %s restored", scope[1], lease_id)
    return json_response({"lease_seconds": registry.lease_seconds, "restored": restored})


async def _revoke(request: web.Request) -> web.Response:
    revoked = request.app[REGISTRY].revoke(request.match_info["lease_id"])
    return json_response({"revoked": revoked})


async def _rotate(request: web.Request) -> web.Response:
    token = new_token()
    path = request.app[TOKEN_FILE]
    write_token(path, token)
    request.app[REGISTRY].rotate_default(token)
    log.info("default token rotated")
    return json_response({"token_file": str(path)})


def _leases(registry: TokenRegistry) -> list[dict[str, str | None]]:
    """The running `stsd exec` commands, for `stsd status`: labels and profiles only."""
    return [{"label": g.label, "profile": g.profile} for g in registry.active_leases()]


def add_token_routes(app: web.Application, registry: TokenRegistry, token_file: Path) -> None:
    """Mount the token routes on the control app (which holds SERVICE)."""
    app[REGISTRY] = registry
    app[TOKEN_FILE] = token_file
    app[STATUS_PARTS].append(lambda: {"exec_leases": _leases(registry)})
    app.router.add_post("/v1/tokens", _issue)
    app.router.add_post("/v1/tokens/{lease_id}", _renew)
    app.router.add_delete("/v1/tokens/{lease_id}", _revoke)
    app.router.add_post("/v1/token/rotate", _rotate)
