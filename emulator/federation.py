"""The AWS sign-in federation endpoint, as far as `stsd console` uses it.

`GET /federation?Action=getSigninToken&Session=<json>` takes role credentials
(`sessionId`, `sessionKey`, `sessionToken`) and returns `{"SigninToken": ...}`;
`GET /federation?Action=login&...&SigninToken=...` redirects to `Destination` once per
token. Like AWS, it refuses credentials from GetSessionToken: only role (or
federation) credentials can sign in to the console.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlparse

from aiohttp import web

from stsd.emulator.state import STATE

__all__ = ["add_federation_routes"]

_TOKENS = web.AppKey("signin_tokens", dict[str, str])


def add_federation_routes(app: web.Application) -> None:
    app[_TOKENS] = {}
    app.router.add_route("GET", "/federation", _federation)


async def _federation(request: web.Request) -> web.Response:
    action = request.query.get("Action")
    if action == "getSigninToken":
        return _signin_token(request)
    if action == "login":
        return _login(request)
    return web.json_response({"message": f"unknown Action {action!r}"}, status=400)


def _signin_token(request: web.Request) -> web.Response:
    try:
        session = json.loads(request.query.get("Session", ""))
        key, secret, token = session["sessionId"], session["sessionKey"], session["sessionToken"]
    except (ValueError, KeyError, TypeError):
        return web.json_response({"message": "Session is not the expected JSON"}, status=400)
    issued = request.app[STATE].sts.issued(str(key), str(secret), str(token))
    if issued is None or issued.kind != "role":
        return web.json_response(
            {"message": "the credentials are not valid role credentials"}, status=403
        )
    signin_token = secrets.token_urlsafe(32)
    request.app[_TOKENS][signin_token] = issued.principal.arn
    return web.json_response({"SigninToken": signin_token})


def _login(request: web.Request) -> web.Response:
    token = request.query.get("SigninToken", "")
    destination = request.query.get("Destination", "")
    if request.app[_TOKENS].pop(token, None) is None:
        return web.json_response({"message": "invalid or used SigninToken"}, status=400)
    if urlparse(destination).scheme not in {"http", "https"}:
        return web.json_response({"message": "Destination must be a URL"}, status=400)
    raise web.HTTPFound(destination)
