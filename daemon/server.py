"""HTTP only: the credentials endpoint on loopback TCP.

Checks, parsing, serialization and error-to-status mapping; every decision about
credentials is the service's. Responses follow DESIGN.md's contract exactly:
credentials as `{"AccessKeyId","SecretAccessKey","Token","Expiration","AccountId"}`,
errors as `{"code","message","Code","Message"}` with Content-Type exactly
`application/json` (the Go SDK parses the body only then).
"""

import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from stsd.daemon.errors import StsdError
from stsd.daemon.model import RoleCredentials
from stsd.daemon.service import CredentialService
from stsd.daemon.tokens import TokenRegistry

__all__ = [
    "SERVICE",
    "TOKENS",
    "AccessLogger",
    "create_credentials_app",
    "json_error",
    "json_errors",
    "json_response",
    "set_own_hosts",
]

log = logging.getLogger(__name__)

SERVICE = web.AppKey("service", CredentialService)
OWN_HOSTS = web.AppKey("own_hosts", set[str])

# Headers a browser page or a proxy adds; SDKs never send them (DESIGN, security rules).
_REFUSED_HEADERS = ("X-Forwarded-For", "Forwarded", "Origin")


TOKENS = web.AppKey("tokens", TokenRegistry)


def json_error(status: int, code: str, message: str) -> web.Response:
    body = {"code": code, "message": message, "Code": code, "Message": message}
    return json_response(body, status)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


def credentials_body(creds: RoleCredentials) -> dict[str, str]:
    c = creds.credentials
    assert c.expiration is not None and c.session_token is not None  # noqa: S101 - role creds
    return {
        "AccessKeyId": c.access_key_id,
        "SecretAccessKey": c.secret_access_key,
        "Token": c.session_token,
        # Whole seconds and a Z: the one form every SDK parses.
        "Expiration": c.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "AccountId": c.account_id or "",
    }


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own 404/405 pages are text: answer JSON like everything else."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = error.reason.replace(" ", "")
        return json_error(error.status, code, f"{error.reason}: {request.method} {request.path}")


async def _credentials(request: web.Request) -> web.Response:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    token = request.headers.get("Authorization")
    if not token:
        return json_error(
            401,
            "MissingToken",
            'no Authorization header: point the SDK at stsd with `eval "$(stsd env)"`',
        )
    grant = request.app[TOKENS].lookup(token)
    if grant is None:
        return json_error(
            403, "InvalidToken", 'wrong authorization token: run `eval "$(stsd env)"` again'
        )
    service = request.app[SERVICE]
    profile = request.match_info["profile"]
    if not grant.allows(profile):
        return json_error(
            403,
            "ProfileNotAllowed",
            f"this token ({grant.label}) is for profile {grant.profile} only",
        )
    if not service.knows(profile):
        known = ", ".join(sorted(service.config.roles)) or "none"
        return json_error(
            404,
            "UnknownProfile",
            f"no role profile {profile!r} in the configuration; known: {known}",
        )
    try:
        creds = await service.credentials(profile)
    except StsdError as error:
        return json_error(error.http_status, error.code, error.message)
    return json_response(credentials_body(creds))


def _refusal(request: web.Request) -> web.Response | None:
    """Refuse what no SDK sends: foreign Host (DNS rebinding), proxies, browsers."""
    if request.host not in request.app[OWN_HOSTS]:
        return json_error(403, "ForeignHost", "the Host header is not this daemon's address")
    for name in _REFUSED_HEADERS:
        if name in request.headers:
            return json_error(403, "Refused", f"requests carrying {name} are refused")
    if any(name.lower().startswith("sec-fetch-") for name in request.headers):
        return json_error(403, "Refused", "requests from browser pages are refused")
    return None


def set_own_hosts(app: web.Application, host: str, port: int) -> None:
    """Record the address we listen on; only these Host headers are accepted."""
    literal = f"[{host}]" if ":" in host else host
    hosts = {f"{literal}:{port}"}
    if host in {"127.0.0.1", "::1"}:
        hosts.add(f"localhost:{port}")
    app[OWN_HOSTS].clear()
    app[OWN_HOSTS].update(hosts)


def create_credentials_app(service: CredentialService, tokens: TokenRegistry) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=4096)
    app[SERVICE] = service
    app[TOKENS] = tokens
    app[OWN_HOSTS] = set()
    app.router.add_get("/credentials/{profile}", _credentials, allow_head=False)
    return app


class AccessLogger(AbstractAccessLogger):
    """Method, path, status and duration: never headers (they carry the token)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms", request.method, request.path, response.status, time * 1000
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
