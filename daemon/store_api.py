"""Control API routes of the encrypted store: `stsd keys ...` and `stsd mfa totp ...`.

Beside `control_api`'s routes on the same Unix socket (0700 dir: only our user). The
daemon is the store's only writer, so these commands come here rather than touch it.
Replies carry masked key ids only; a seed travels in a request body, never back.
"""

import json
from typing import Any

from aiohttp import web

from stsd.daemon.errors import StsdError
from stsd.daemon.keys import KeyManager
from stsd.daemon.server import json_response

__all__ = ["KEYS", "add_store_routes"]

KEYS = web.AppKey("keys", KeyManager)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(reason="Body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="Body is not a JSON object")
    return body


def _source(body: dict[str, Any]) -> str | None:
    value = body.get("source")
    if value is not None and not isinstance(value, str):
        raise web.HTTPBadRequest(reason="source must be a string")
    return value


def _error(error: StsdError) -> web.Response:
    body = {
        "code": error.code,
        "message": error.message,
        "Code": error.code,
        "Message": error.message,
        "exit_code": error.exit_code,
    }
    return json_response(body, error.http_status)


async def _list(request: web.Request) -> web.Response:
    return json_response({"keys": request.app[KEYS].list()})


async def _import(request: web.Request) -> web.Response:
    source = _source(await _body(request))
    try:
        return json_response(await request.app[KEYS].import_keys(source))
    except StsdError as error:
        return _error(error)


async def _remove(request: web.Request) -> web.Response:
    source = _source(await _body(request))
    try:
        return json_response(await request.app[KEYS].remove_keys(source))
    except StsdError as error:
        return _error(error)


async def _rotate(request: web.Request) -> web.Response:
    source = _source(await _body(request))
    try:
        return json_response(await request.app[KEYS].rotate_keys(source))
    except StsdError as error:
        return _error(error)


async def _totp_add(request: web.Request) -> web.Response:
    body = await _body(request)
    seed = body.get("seed")
    if not isinstance(seed, str):
        raise web.HTTPBadRequest(reason="seed must be a string")
    try:
        return json_response(await request.app[KEYS].add_seed(_source(body), seed))
    except StsdError as error:
        return _error(error)


async def _totp_remove(request: web.Request) -> web.Response:
    source = _source(await _body(request))
    try:
        return json_response(request.app[KEYS].remove_seed(source))
    except StsdError as error:
        return _error(error)


def add_store_routes(app: web.Application, keys: KeyManager) -> None:
    app[KEYS] = keys
    app.router.add_get("/v1/keys", _list)
    app.router.add_post("/v1/keys/import", _import)
    app.router.add_post("/v1/keys/remove", _remove)
    app.router.add_post("/v1/keys/rotate", _rotate)
    app.router.add_post("/v1/mfa/totp/add", _totp_add)
    app.router.add_post("/v1/mfa/totp/remove", _totp_remove)
