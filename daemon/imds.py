"""IMDSv2 for tools that speak only instance metadata (off by default).

`PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` (1..21600, echoed:
the Go and Rust SDKs need it) returns a random session token; metadata reads must carry
it in `X-aws-ec2-metadata-token` (IMDSv1, without one, is refused). The one role
profile named in config.toml is served under its role's name. IMDS clients carry no
secret of ours, so on Linux only the daemon's own uid may connect (peer uid from
/proc/net/tcp); the credentials endpoint's refusals (Host, proxies, browsers) apply.
"""

import hashlib
import os
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from stsd.daemon.errors import StsdError
from stsd.daemon.peer import peer_uid
from stsd.daemon.server import SERVICE, audit, credentials_body, json_response, refusal

__all__ = ["ImdsTokens", "add_imds_routes"]

_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
_TOKEN_HEADER = "X-aws-ec2-metadata-token"  # noqa: S105 - a header name
_MAX_TTL = 21600
_MAX_TOKENS = 10_000  # a client minting tokens in a loop can't grow memory without bound
_CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"


class ImdsTokens:
    """Issued IMDS session tokens with their expiry; keyed by digest, not the token."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._expiry: dict[bytes, float] = {}
        self._monotonic = monotonic

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def issue(self, ttl_seconds: int) -> str:
        now = self._monotonic()
        if len(self._expiry) >= _MAX_TOKENS:
            self._expiry = {k: t for k, t in self._expiry.items() if t > now}
            while len(self._expiry) >= _MAX_TOKENS:  # all live: drop the oldest-expiring
                self._expiry.pop(min(self._expiry, key=self._expiry.__getitem__))
        token = secrets.token_urlsafe(32)
        self._expiry[self._key(token)] = now + ttl_seconds
        return token

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        expiry = self._expiry.get(self._key(token))
        return expiry is not None and self._monotonic() < expiry


TOKENS = web.AppKey("imds_tokens", ImdsTokens)
PROFILE = web.AppKey("imds_profile", str)


def _text(body: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/plain", headers=headers)


def _foreign_uid(request: web.Request) -> bool:
    transport = request.transport
    if transport is None:
        return True
    peer = transport.get_extra_info("peername")
    local = transport.get_extra_info("sockname")
    if not peer or not local:
        return True
    uid = peer_uid((peer[0], peer[1]), (local[0], local[1]))
    return uid is not None and uid != os.getuid()


def _refused(request: web.Request) -> web.Response | None:
    refused = refusal(request)
    if refused is not None:
        return refused
    if _foreign_uid(request):
        return _text("Forbidden: only the daemon's own user may use its IMDS", 403)
    return None


async def _token(request: web.Request) -> web.Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    raw = request.headers.get(_TTL_HEADER, "")
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_TTL:
        return _text(f"Bad Request: {_TTL_HEADER} must be 1..{_MAX_TTL}", 400)
    token = request.app[TOKENS].issue(int(raw))
    return _text(token, headers={_TTL_HEADER: raw})


def _authorized(request: web.Request) -> web.Response | None:
    refused = _refused(request)
    if refused is not None:
        return refused
    if not request.app[TOKENS].valid(request.headers.get(_TOKEN_HEADER)):
        return _text("Unauthorized: IMDSv2 only; get a token with PUT /latest/api/token", 401)
    return None


def _role_name(request: web.Request) -> str:
    service = request.app[SERVICE]
    arn = service.config.roles[request.app[PROFILE]].role_arn
    return arn.rsplit("/", 1)[-1]


async def _role_list(request: web.Request) -> web.Response:
    denied = _authorized(request)
    return denied or _text(_role_name(request))  # no trailing newline, as EC2 answers


async def _role_credentials(request: web.Request) -> web.Response:
    started = time.time()
    response = await _answer_role_credentials(request)
    # The token is IMDS's own, not ours: the line says "imds" and what came of it.
    code = None if response.status == 200 else response.reason
    audit(request, started, request.app[PROFILE], "imds", response.status, code)
    return response


async def _answer_role_credentials(request: web.Request) -> web.Response:
    denied = _authorized(request)
    if denied is not None:
        return denied
    if request.match_info["role"] != _role_name(request):
        return _text("Not Found", 404)
    try:
        creds = await request.app[SERVICE].credentials(request.app[PROFILE])
    except StsdError as error:
        return json_response({"Code": error.code, "Message": error.message}, error.http_status)
    body = {
        "Code": "Success",
        "LastUpdated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Type": "AWS-HMAC",
        **credentials_body(creds),
    }
    return json_response(body)


def add_imds_routes(app: web.Application, profile: str) -> None:
    """Serve `profile` over IMDSv2 on `app` (before the app starts)."""
    app[TOKENS] = ImdsTokens()
    app[PROFILE] = profile
    app.router.add_put("/latest/api/token", _token)
    app.router.add_get(_CREDENTIALS_PATH, _role_list, allow_head=False)
    app.router.add_get(_CREDENTIALS_PATH + "{role}", _role_credentials, allow_head=False)
