"""The MFA web page: `GET /mfa/<one-time id>` shows a form, its POST takes the code.

The one route a browser may use (DESIGN.md, security rules), so it defends itself:
- the Host must be the daemon's own address (DNS rebinding), no proxy headers;
- a POST must come from stsd's own Origin (a page elsewhere can't submit it), and
  carry a form token its GET issued; the link is single use and lives 10 minutes;
- no CORS headers ever; `X-Frame-Options: DENY`, a CSP that allows no script and no
  framing, no referrer to other sites (the URL holds the id), no caching.

The form is plain HTML that works without script: `inputmode=numeric`,
`autocomplete=one-time-code` (browsers and password managers fill it), autofocus.
"""

import base64
import hashlib
import html
import logging

from aiohttp import web

from stsd.daemon.broker import PromptReason
from stsd.daemon.errors import MfaCodeRejected, StsdError
from stsd.daemon.mfa import MfaDesk
from stsd.daemon.mfa_links import LinkState, MfaLink
from stsd.daemon.prompts import CODE_PATTERN, PromptRequest, describe
from stsd.daemon.server import OWN_HOSTS

__all__ = ["MFA_DESK", "add_mfa_page"]

log = logging.getLogger(__name__)

MFA_DESK = web.AppKey("mfa_desk", MfaDesk)

_STYLE = (
    "body{font:1.1rem/1.5 system-ui,sans-serif;max-width:30rem;margin:3rem auto;padding:0 1rem}"
    "h1{font-size:1.5rem}"
    "label{display:block;font-weight:600;margin:1rem 0 .3rem}"
    "input{font:inherit;font-size:1.6rem;letter-spacing:.3em;width:9ch;padding:.2rem .4rem}"
    "button{font:inherit;margin-left:.5rem;padding:.4rem 1rem}"
    ".ok{color:#0a5c2b}.bad{color:#a00}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it, browsers send `Origin: null` on the form's own POST.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded")


def add_mfa_page(app: web.Application, desk: MfaDesk) -> None:
    """Serve the MFA page on the credentials app (same address, same Host checks)."""
    app[MFA_DESK] = desk
    app.router.add_get("/mfa/{link}", _show, allow_head=False)
    app.router.add_post("/mfa/{link}", _take)


async def _show(request: web.Request) -> web.Response:
    refused = _refusal(request, posting=False)
    if refused is not None:
        return refused
    desk = request.app[MFA_DESK]
    link_id = request.match_info["link"]
    state, link = desk.links.look(link_id)
    token = desk.links.form_token(link_id)
    if link is None or token is None:
        return _gone(state, link)
    return _form_page(link, token)


async def _take(request: web.Request) -> web.Response:
    refused = _refusal(request, posting=True)
    if refused is not None:
        return refused
    desk = request.app[MFA_DESK]
    link_id = request.match_info["link"]
    form = await request.post()
    token = form.get("token")
    code = "".join(str(form.get("code", "")).split())  # "123 456" pasted is fine
    state, link = desk.links.look(link_id)
    if link is None or state is not LinkState.OPEN:
        return _gone(state, link)
    if not isinstance(token, str):
        return _refused_page("This form did not come from stsd. Open the link again.")
    if not CODE_PATTERN.match(code):
        # Nothing was sent: the link stays open, the form asks again.
        fresh = desk.links.form_token(link.id)
        if fresh is None:
            return _gone(*desk.links.look(link.id))
        return _form_page(link, fresh, problem="An MFA code is 6 digits.", status=400)
    state, taken = desk.links.take(link_id, token)
    if state is LinkState.BAD_TOKEN:
        return _refused_page("This form is stale or did not come from stsd. Open the link again.")
    if taken is None or state is not LinkState.OPEN:
        return _gone(state, taken)
    try:
        session = await desk.submit(taken.source, code)
    except MfaCodeRejected:
        return _retry_page(desk, taken, "Rejected", "STS refused this code (wrong, or used).")
    except StsdError as error:
        return _retry_page(desk, taken, "Not accepted", error.message)
    until = session.credentials.expiration
    ends = f" until {until.astimezone():%H:%M}" if until else ""
    return _page(
        "Accepted",
        f'<h1 class="ok" role="status">Accepted</h1>'
        f"<p>stsd has an MFA session for {_e(taken.source)}{_e(ends)}. "
        "You can close this tab.</p>",
    )


def _refusal(request: web.Request, posting: bool) -> web.Response | None:
    """Refuse other hosts (DNS rebinding), proxies, and POSTs from other origins."""
    if request.host not in request.app[OWN_HOSTS]:
        return _refused_page("The Host header is not this daemon's address.")
    for name in _PROXY_HEADERS:
        if name in request.headers:
            return _refused_page(f"Requests carrying {name} are refused.")
    if posting:
        origin = request.headers.get("Origin")
        if origin != f"http://{request.host}":
            log.warning("MFA page: refused a POST from another origin")
            return _refused_page("Codes are taken only from stsd's own page.")
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None and site != "same-origin":
            return _refused_page("Codes are taken only from stsd's own page.")
    return None


def _form_page(
    link: MfaLink, token: str, problem: str | None = None, status: int = 200
) -> web.Response:
    title, text = describe(
        PromptRequest(link.source, link.device, link.reason, link.session_ends, None)
    )
    alert = f'<p class="bad" role="alert">{_e(problem)}</p>' if problem else ""
    return _page(
        title,
        f"<h1>MFA code for {_e(link.source)}</h1>{alert}{_form(link, token, text)}",
        status,
    )


def _form(link: MfaLink, token: str, text: str) -> str:
    return (
        f'<form method="post" action="/mfa/{_e(link.id)}">'
        f'<p id="why">{_e(text)}</p>'
        f'<input type="hidden" name="token" value="{_e(token)}">'
        '<label for="code">6-digit code</label>'
        '<input id="code" name="code" type="text" inputmode="numeric" '
        'autocomplete="one-time-code" pattern="\\s*([0-9]\\s*){6}" title="6 digits" '
        'required autofocus aria-describedby="why">'
        '<button type="submit">Log in</button></form>'
    )


def _retry_page(desk: MfaDesk, used: MfaLink, heading: str, problem: str) -> web.Response:
    """The outcome, and a fresh one-time form to try again with."""
    fresh = desk.links.issue(
        used.device, used.source, PromptReason.CODE_REJECTED, used.session_ends
    )
    token = desk.links.form_token(fresh.id)
    retry = _form(fresh, token, "Try again with the next code.") if token else ""
    return _page(
        f"stsd: {heading.lower()}",
        f'<h1 class="bad" role="alert">{_e(heading)}</h1><p>{_e(problem)}</p>{retry}',
        status=200,
    )


def _gone(state: LinkState, link: MfaLink | None) -> web.Response:
    heading, why = {
        LinkState.USED: ("Link already used", "Each link takes one code."),
        LinkState.EXPIRED: ("Link expired", "Links last a few minutes."),
        LinkState.SETTLED: ("Nothing to do", "stsd got an MFA code another way."),
    }.get(state, ("No such link", "This link is not one stsd gave out, or it is long gone."))
    login = f"stsd login {link.source}" if link else "stsd login"
    status = 404 if state is LinkState.UNKNOWN else 410
    return _page(
        f"stsd: {heading.lower()}",
        f'<h1 role="alert">{_e(heading)}</h1><p>{_e(why)} The next prompt brings a new '
        f"link; or run <code>{_e(login)}</code> in a terminal.</p>",
        status,
    )


def _refused_page(message: str) -> web.Response:
    return _page("stsd: refused", f'<h1 role="alert">Refused</h1><p>{_e(message)}</p>', 403)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return web.Response(
        text=document,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=_HEADERS,
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)
