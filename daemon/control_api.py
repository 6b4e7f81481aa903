"""The control API: HTTP over the Unix socket in the runtime dir (0700, so only our user
reaches it). The CLI's `login`, `logout`, `status` go through here; errors carry the
CLI's exit code beside DESIGN's JSON error fields.
"""

import json
import re
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from aiohttp import web

from stsd.daemon.errors import StsdError
from stsd.daemon.server import SERVICE, json_errors, json_response
from stsd.daemon.service import CredentialService

__all__ = [
    "STATUS_PARTS",
    "StatusPart",
    "control_error",
    "create_control_app",
    "optional_str",
    "read_json_body",
]

_CODE_PATTERN = re.compile(r"^[0-9]{6}$")
_VERSION = version("stsd")

# What other parts of the daemon add to /v1/status (the token routes: exec leases).
StatusPart = Callable[[], dict[str, Any]]
STATUS_PARTS = web.AppKey("status_parts", list[StatusPart])


async def read_json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 saying what is wrong with it."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(reason="Body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="Body is not a JSON object")
    return body


def control_error(error: StsdError) -> web.Response:
    """DESIGN's JSON error, plus the exit code the CLI should end with."""
    body = {
        "code": error.code,
        "message": error.message,
        "Code": error.code,
        "Message": error.message,
        "exit_code": error.exit_code,
    }
    return json_response(body, error.http_status)


def optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise web.HTTPBadRequest(reason=f"{key} must be a string")
    return value


async def _status(request: web.Request) -> web.Response:
    status = {"version": _VERSION, **request.app[SERVICE].status()}
    for part in request.app[STATUS_PARTS]:
        status.update(part())
    return json_response(status)


async def _login(request: web.Request) -> web.Response:
    body = await read_json_body(request)
    code = body.get("code")
    if not isinstance(code, str) or not _CODE_PATTERN.match(code):
        raise web.HTTPBadRequest(reason="An MFA code is 6 digits")
    try:
        session = await request.app[SERVICE].login(optional_str(body, "source"), code)
    except StsdError as error:
        return control_error(error)
    expires = session.credentials.expiration
    return json_response(
        {
            "source": session.source,
            "user_arn": session.user_arn,
            "session_expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ") if expires else None,
        }
    )


async def _logout(request: web.Request) -> web.Response:
    body = await read_json_body(request)
    try:
        names = request.app[SERVICE].logout(
            optional_str(body, "source"), everything=body.get("all") is True
        )
    except StsdError as error:
        return control_error(error)
    return json_response({"forgotten": names})


def create_control_app(service: CredentialService) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=16384)
    app[SERVICE] = service
    app[STATUS_PARTS] = []
    app.router.add_get("/v1/status", _status)
    app.router.add_post("/v1/login", _login)
    app.router.add_post("/v1/logout", _logout)
    return app
