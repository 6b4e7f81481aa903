"""HTTP only: the credentials endpoint on loopback TCP.

Checks, parsing, serialization and error-to-status mapping; every decision about
credentials is the service's. Responses follow DESIGN.md's contract exactly:
credentials as `{"AccessKeyId","SecretAccessKey","Token","Expiration","AccountId"}`,
errors as `{"code","message","Code","Message"}` with Content-Type exactly
`application/json` (the Go SDK parses the body only then).
"""

import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler, Middleware

from stsd.daemon.audit import AuditEvent, AuditLog
from stsd.daemon.bodies import EncodedBodies
from stsd.daemon.errors import StsdError
from stsd.daemon.guard import ConnectionGuard
from stsd.daemon.model import RoleCredentials
from stsd.daemon.peer import Address, address_of
from stsd.daemon.service import CredentialService
from stsd.daemon.tokens import Grant, TokenRegistry

__all__ = [
    "AUDIT",
    "OWN_HOSTS",
    "SERVICE",
    "TOKENS",
    "ENDPOINT",
    "AccessLogger",
    "CredentialsEndpoint",
    "Refusal",
    "answer_credentials_directly",
    "audit",
    "credentials_body",
    "create_credentials_app",
    "json_error",
    "json_errors",
    "json_response",
    "refusal",
    "refusal_of",
    "set_own_hosts",
]

log = logging.getLogger(__name__)

SERVICE = web.AppKey("service", CredentialService)
OWN_HOSTS = web.AppKey("own_hosts", set[str])

# Headers a proxy or a browser page adds; SDKs never send them (DESIGN, security rules).
# X-Forwarded-* and Sec-Fetch-* are refused by prefix.
_PROXY_HEADERS = frozenset({"forwarded", "via", "x-real-ip"})
_BROWSER_HEADERS = frozenset({"origin", "referer"})
_SUSPECT_HEADERS = _PROXY_HEADERS | _BROWSER_HEADERS
_SUSPECT_PREFIXES = ("x-forwarded-", "sec-fetch-")


TOKENS = web.AppKey("tokens", TokenRegistry)
AUDIT = web.AppKey("audit", AuditLog)


def json_error(status: int, code: str, message: str) -> web.Response:
    body = {"code": code, "message": message, "Code": code, "Message": message}
    return json_response(body, status)


_JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), headers=_JSON_HEADERS)


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
    except Exception:
        # A bug, not a request's fault: a JSON 500 without details (they could hold
        # anything); the traceback goes to the log, which never holds header values.
        log.exception("internal error on %s %s", request.method, request.path)
        return json_error(500, "InternalError", "stsd failed on this request; see its log")


@dataclass(frozen=True, slots=True)
class Refusal:
    """An error answer: HTTP status, DESIGN's error code, and what to do about it."""

    status: int
    code: str
    message: str


def refusal_of(request: web.BaseRequest, own_hosts: set[str]) -> Refusal | None:
    """Why a request that no SDK would send is refused, or None.

    For the credentials and IMDS routes only (the MFA page is for browsers): a Host
    other than our own address (DNS rebinding), a proxy's request form and headers a
    proxy adds (SSRF through a local proxy), headers a browser adds (a web page), and a
    request body.
    """
    headers = request.headers
    hosts = headers.getall("Host", [])
    if len(hosts) != 1 or hosts[0].lower() not in own_hosts:
        return Refusal(403, "ForeignHost", "the Host header is not this daemon's address")
    if not request.raw_path.startswith("/"):
        # `GET http://host/path`: the form clients send to a proxy, never to stsd.
        return Refusal(403, "ProxiedRequest", "requests in a proxy's absolute form are refused")
    for name in headers:
        lower = name.lower()
        if lower in _SUSPECT_HEADERS or lower.startswith(_SUSPECT_PREFIXES):
            if lower in _BROWSER_HEADERS or lower.startswith("sec-fetch-"):
                return Refusal(
                    403, "BrowserRequest", f"requests from browser pages ({name}) are refused"
                )
            return Refusal(403, "ProxiedRequest", f"requests carrying {name} are refused")
    if (request.content_length or 0) > 0 or "Transfer-Encoding" in headers:
        return Refusal(400, "BodyNotAllowed", "this endpoint takes no request body")
    return None


def refusal(request: web.Request) -> web.Response | None:
    """`refusal_of` as DESIGN's JSON error, for routes that answer in JSON (IMDS)."""
    refused = refusal_of(request, request.app[OWN_HOSTS])
    return None if refused is None else _failure(refused)[0]


class CredentialsEndpoint:
    """GET /credentials/{profile}: what it needs, and the answer to one request."""

    def __init__(
        self,
        service: CredentialService,
        tokens: TokenRegistry,
        audit: AuditLog | None,
        own_hosts: set[str],
    ) -> None:
        self.service = service
        self.tokens = tokens
        self.audit = audit
        self.own_hosts = own_hosts  # filled in by set_own_hosts once listening
        self.bodies = EncodedBodies(credentials_body)

    async def handle(
        self,
        request: web.BaseRequest,
        profile: str,
        addresses: tuple[Address | None, Address | None] | None = None,
    ) -> web.Response:
        """Every request, served or refused, is audited. `addresses`: the connection's
        (peer, local), when the caller knows them already."""
        started = time.time()
        token = request.headers.get("Authorization")
        grant = self.tokens.lookup(token) if token else None
        refused = self._refusal(request, profile, token, grant)
        response: web.Response
        code: str | None = None
        if refused is not None:
            response, code = _failure(refused)
        else:
            creds = self.service.serve_now(profile)  # the usual case: nothing to await
            if creds is not None:
                response = self._served(creds)
            else:
                response, code = await self._after_waiting(profile)
        if self.audit is not None:
            label = grant.label if grant is not None else ("invalid" if token else "missing")
            if addresses is None:
                addresses = addresses_of(request)
            self.audit.record((started, profile, label, response.status, code, *addresses))
        return response

    async def _after_waiting(self, profile: str) -> tuple[web.Response, str | None]:
        """The answer once the service has fetched credentials (or given up)."""
        try:
            creds = await self.service.credentials(profile)
        except StsdError as error:
            return _failure(Refusal(error.http_status, error.code, error.message))
        return self._served(creds), None

    def _served(self, creds: RoleCredentials) -> web.Response:
        return web.Response(body=self.bodies.body(creds), headers=_JSON_HEADERS)

    def _refusal(
        self, request: web.BaseRequest, profile: str, token: str | None, grant: Grant | None
    ) -> Refusal | None:
        """Why this request gets no credentials, before asking the service; checks in
        DESIGN's order."""
        refusal = refusal_of(request, self.own_hosts)
        if refusal is not None:
            return refusal
        if not token:
            return Refusal(
                401,
                "MissingToken",
                'no Authorization header: point the SDK at stsd with `eval "$(stsd env)"`',
            )
        if grant is None:
            return Refusal(
                403, "InvalidToken", 'wrong authorization token: run `eval "$(stsd env)"` again'
            )
        if not grant.allows(profile):
            return Refusal(
                403,
                "ProfileNotAllowed",
                f"this token ({grant.label}) is for profile {grant.profile} only",
            )
        if not self.service.knows(profile):
            known = ", ".join(sorted(self.service.config.roles)) or "none"
            return Refusal(
                404,
                "UnknownProfile",
                f"no role profile {profile!r} in the configuration; known: {known}",
            )
        return None


ENDPOINT = web.AppKey("endpoint", CredentialsEndpoint)


async def _credentials(request: web.Request) -> web.Response:
    """The routed way in (requests the direct path leaves to the router)."""
    return await request.app[ENDPOINT].handle(request, request.match_info["profile"])


def audit(
    request: web.Request, started: float, profile: str, label: str, status: int, code: str | None
) -> None:
    """Queue the audit line of a routed credential request (IMDS); no I/O here."""
    audit_log = request.app.get(AUDIT)
    if audit_log is not None:
        audit_log.record(AuditEvent(started, profile, label, status, code, *addresses_of(request)))


def addresses_of(request: web.BaseRequest) -> tuple[Address | None, Address | None]:
    """The request's connection: (peer, local)."""
    transport = request.transport
    if transport is None:
        return None, None
    return (
        address_of(transport.get_extra_info("peername")),
        address_of(transport.get_extra_info("sockname")),
    )


def _failure(refused: Refusal) -> tuple[web.Response, str]:
    return json_error(refused.status, refused.code, refused.message), refused.code


def set_own_hosts(app: web.Application, host: str, port: int) -> None:
    """Record the address we listen on; only these Host headers are accepted."""
    literal = f"[{host}]" if ":" in host else host
    hosts = {f"{literal}:{port}"}
    if host in {"127.0.0.1", "::1"}:
        hosts.add(f"localhost:{port}")
    app[OWN_HOSTS].clear()
    app[OWN_HOSTS].update(hosts)


def create_credentials_app(
    service: CredentialService,
    tokens: TokenRegistry,
    audit: AuditLog | None = None,
    middlewares: Sequence[Middleware] = (),
) -> web.Application:
    """The credentials endpoint; `middlewares` run first (e.g. the connection guard)."""
    _quiet_parse_errors()
    app = web.Application(middlewares=[*middlewares, json_errors], client_max_size=4096)
    app[SERVICE] = service
    app[TOKENS] = tokens
    if audit is not None:
        app[AUDIT] = audit
    app[OWN_HOSTS] = set()
    app[ENDPOINT] = CredentialsEndpoint(service, tokens, audit, app[OWN_HOSTS])
    app.router.add_get(
        "/credentials/{profile}", _credentials, allow_head=False, expect_handler=_ignore_expect
    )
    app.on_startup.append(_add_fallback_route)
    return app


async def _ignore_expect(request: web.Request) -> None:
    """No route here reads a body: there is nothing to say 100 Continue to. (aiohttp's
    own handler also answers 500 to an Expect value that isn't UTF-8.)"""


async def _add_fallback_route(app: web.Application) -> None:
    # At startup, after every other route (added when the app was built): a request
    # that matches none lands here instead of in aiohttp's built-in 404/405, whose
    # Expect handling is the one that fails.
    app.router.add_route("*", "/{anything:.*}", _fallback, expect_handler=_ignore_expect)


async def _fallback(request: web.Request) -> web.StreamResponse:
    profile = request.path.removeprefix("/credentials/")
    if profile != request.path and profile and "/" not in profile:
        raise web.HTTPMethodNotAllowed(request.method, ["GET"])
    raise web.HTTPNotFound()


# The credentials requests SDKs send: GET, a plain profile name, no query. Anything else
# (other characters, percent-escapes, a query, another method) takes the routed way,
# which answers it exactly as before.
_DIRECT_PATH = re.compile(r"/credentials/([A-Za-z0-9][A-Za-z0-9._-]{0,127})")


def answer_credentials_directly(
    server: web.Server, endpoint: CredentialsEndpoint, guard: ConnectionGuard
) -> None:
    """Answer SDKs' credential requests before aiohttp's router and middlewares.

    Routing, freezing a match, the middleware chain and their coroutines cost aiohttp
    about a fifth of a request's CPU time (docs/benchmarks.md), for a route whose
    answer does not depend on any of it. Every other request (the MFA page, IMDS, 404s)
    still goes through the application, guard middleware and JSON errors included.
    """
    routed = server.request_handler

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        match = _DIRECT_PATH.fullmatch(request.raw_path)
        if match is None or request.method != "GET":
            return await routed(request)
        connection = guard.request_started(request.transport)
        try:
            addresses = None if connection is None else connection.addresses
            return await endpoint.handle(request, match.group(1), addresses)
        except Exception:
            log.exception("internal error on GET /credentials/")
            return json_error(500, "InternalError", "stsd failed on this request; see its log")
        finally:
            guard.request_finished(connection)

    server.request_handler = dispatch


class _ParseErrorFilter(logging.Filter):
    """aiohttp logs each malformed request at ERROR, with a traceback quoting the bytes
    at fault: anyone could fill the log, and the quoted line could be one holding a
    token. One short debug line instead, naming the error only."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            log.debug("malformed request refused: %s (%s)", type(error).__name__, error.code)
            return False
        return True


def _quiet_parse_errors() -> None:
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _ParseErrorFilter) for f in logger.filters):
        logger.addFilter(_ParseErrorFilter())


class AccessLogger(AbstractAccessLogger):
    """Method, path, status and duration: never headers (they carry the token)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.path
        if path.startswith("/mfa/"):
            path = "/mfa/…"  # the one-time id is a capability: keep it out of logs
        self.logger.info("%s %s %s %.1fms", request.method, path, response.status, time * 1000)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
