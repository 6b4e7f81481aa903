"""Control API routes of the encrypted store: `stsd keys ...` and `stsd mfa totp ...`.

Beside `control_api`'s routes on the same Unix socket (0700 dir: only our user). The
daemon is the store's only writer, so these commands come here rather than touch it.
Replies carry masked key ids only; a seed travels in a request body, never back.
"""

from aiohttp import web

from stsd.daemon.control_api import control_error, optional_str, read_json_body
from stsd.daemon.errors import StsdError
from stsd.daemon.keys import KeyManager
from stsd.daemon.server import json_response

__all__ = ["KEYS", "add_store_routes"]

KEYS = web.AppKey("keys", KeyManager)


async def _list(request: web.Request) -> web.Response:
    return json_response({"keys": request.app[KEYS].list()})


async def _import(request: web.Request) -> web.Response:
    source = optional_str(await read_json_body(request), "source")
    try:
        return json_response(await request.app[KEYS].import_keys(source))
    except StsdError as error:
        return control_error(error)


async def _remove(request: web.Request) -> web.Response:
    source = optional_str(await read_json_body(request), "source")
    try:
        return json_response(await request.app[KEYS].remove_keys(source))
    except StsdError as error:
        return control_error(error)


async def _rotate(request: web.Request) -> web.Response:
    source = optional_str(await read_json_body(request), "source")
    try:
        return json_response(await request.app[KEYS].rotate_keys(source))
    except StsdError as error:
        return control_error(error)


async def _totp_add(request: web.Request) -> web.Response:
    body = await read_json_body(request)
    seed = body.get("seed")
    if not isinstance(seed, str):
        raise web.HTTPBadRequest(reason="seed must be a string")
    try:
        return json_response(await request.app[KEYS].add_seed(optional_str(body, "source"), seed))
    except StsdError as error:
        return control_error(error)


async def _totp_remove(request: web.Request) -> web.Response:
    source = optional_str(await read_json_body(request), "source")
    try:
        return json_response(request.app[KEYS].remove_seed(source))
    except StsdError as error:
        return control_error(error)


def add_store_routes(app: web.Application, keys: KeyManager) -> None:
    app[KEYS] = keys
    app.router.add_get("/v1/keys", _list)
    app.router.add_post("/v1/keys/import", _import)
    app.router.add_post("/v1/keys/remove", _remove)
    app.router.add_post("/v1/keys/rotate", _rotate)
    app.router.add_post("/v1/mfa/totp/add", _totp_add)
    app.router.add_post("/v1/mfa/totp/remove", _totp_remove)
