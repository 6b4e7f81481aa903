"""The control API under ``/_emulator/``: JSON, unsigned, for tests on loopback.

- ``GET  /_emulator/calls``        STS requests per action, whatever their outcome
- ``GET  /_emulator/requests``     the recent STS requests, without secrets
- ``POST /_emulator/reset``        clear counts, records and faults
- ``GET  /_emulator/faults``       the faults in force
- ``POST /_emulator/faults``       change the fields given (see ``faults.Faults``)
- ``GET  /_emulator/code/{user}``  a code the user's device shows that STS would accept
- ``POST /_emulator/clock``        ``{"advance_seconds": N}``: age everything issued by N s
"""

from __future__ import annotations

import json

from aiohttp import web

from stsd.emulator.faults import FaultsError
from stsd.emulator.state import STATE

__all__ = ["add_control_routes"]

PREFIX = "/_emulator"


def add_control_routes(app: web.Application) -> None:
    app.router.add_route("GET", f"{PREFIX}/calls", _calls)
    app.router.add_route("GET", f"{PREFIX}/requests", _requests)
    app.router.add_route("POST", f"{PREFIX}/reset", _reset)
    app.router.add_route("GET", f"{PREFIX}/faults", _get_faults)
    app.router.add_route("POST", f"{PREFIX}/faults", _set_faults)
    app.router.add_route("GET", f"{PREFIX}/code/{{user}}", _code)
    app.router.add_route("POST", f"{PREFIX}/clock", _clock)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json_object(request: web.Request) -> dict[str, object]:
    try:
        body = await request.json() if await request.read() else {}
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body is not JSON"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}),
            content_type="application/json",
        )
    return body


async def _calls(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].calls_json())


async def _requests(request: web.Request) -> web.Response:
    return web.json_response([record.to_json() for record in request.app[STATE].records])


async def _reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response({"ok": True})


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].faults.to_json())


async def _set_faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        state.faults = state.faults.updated(await _json_object(request))
    except FaultsError as exc:
        return _error(400, str(exc))
    return web.json_response(state.faults.to_json())


async def _code(request: web.Request) -> web.Response:
    sts = request.app[STATE].sts
    user = sts.config.user_by_name(request.match_info["user"])
    if user is None:
        return _error(404, f"no user {request.match_info['user']!r}")
    code = sts.mfa.unused_code(user)
    if code is None:
        return _error(409, "this step's and the next step's codes are both used; wait 30 s")
    return web.json_response({"code": code})


async def _clock(request: web.Request) -> web.Response:
    sts = request.app[STATE].sts
    seconds = (await _json_object(request)).get("advance_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return _error(400, "advance_seconds must be a non-negative number")
    sts.advance(seconds)
    return web.json_response({"offset_seconds": sts.offset.total_seconds()})
