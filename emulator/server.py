"""The emulator's HTTP face: STS's (and a little of IAM's) Query protocol on ``/``, the
control API beside it.

An STS request goes: parse parameters, count the action, suffer any injected fault,
authenticate (SigV4, token, expiry), carry out the action, answer in STS's XML.
Nothing secret is logged: key ids appear by their last four characters only.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import NoReturn

from aiohttp import web

from stsd.emulator import wire
from stsd.emulator.config import EmulatorConfig
from stsd.emulator.control_api import add_control_routes
from stsd.emulator.errors import StsError
from stsd.emulator.faults import ACTIONS, IAM_ACTIONS, Outage, take_fault
from stsd.emulator.federation import add_federation_routes
from stsd.emulator.iam import IAM_VERSION, Iam
from stsd.emulator.sigv4 import SignedRequest
from stsd.emulator.state import RECORDED_PARAMS, STATE, CallRecord, EmulatorState
from stsd.emulator.sts import Caller, Sts

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(
    config: EmulatorConfig, clock: Callable[[], datetime] | None = None
) -> web.Application:
    """An aiohttp app serving STS for ``config``; ``clock`` (aware UTC) defaults to now."""
    app = web.Application()
    sts = Sts(config, clock or _utc_now)
    app[STATE] = EmulatorState(sts, Iam(sts.keys))
    app.router.add_route("POST", "/", _handle_sts)
    app.router.add_route("GET", "/", _handle_sts)
    add_control_routes(app)
    add_federation_routes(app)
    return app


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _handle_sts(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    request_id = str(uuid.uuid4())
    body = await request.read()
    query = body.decode("utf-8", "replace") if request.method == "POST" else request.query_string
    params = wire.parse_params(query)
    action = params.get("Action", "")
    caller: Caller | None = None
    try:
        _check_action(action, params)
        state.calls[action] += 1
        state.faults, fault = take_fault(state.faults, action)
        if state.faults.applies_to(action) and state.faults.latency_ms:
            await asyncio.sleep(state.faults.latency_ms / 1000)
        if isinstance(fault, Outage):
            log.info("%s: outage, dropping the connection", action)
            _drop_connection(request)
        if fault is not None:
            raise fault
        signed = SignedRequest(
            method=request.method,
            path_qs=request.raw_path,
            headers=tuple(request.headers.items()),
            body=body,
        )
        if action in IAM_ACTIONS:
            caller = state.sts.authenticate(signed, service="iam")
            xml = state.iam.handle(action, caller, params, request_id)
        else:
            caller = state.sts.authenticate(signed)
            xml = _carry_out(state, action, params, caller, request_id)
    except StsError as error:
        _record(state, action, params, error.status, error.code, caller)
        log.info("%s by %s: %d %s", action or "-", _who(caller), error.status, error.code)
        return _xml(wire.error_xml(error, request_id), error.status, request_id)
    except Exception:
        # A bug in the emulator: answer as STS would, so clients see a ClientError.
        log.exception("%s: internal error", action or "-")
        failure = StsError("InternalFailure", "The emulator failed; see its log.", 500)
        _record(state, action, params, failure.status, failure.code, caller)
        return _xml(wire.error_xml(failure, request_id), failure.status, request_id)
    _record(state, action, params, 200, None, caller)
    log.info("%s by %s: 200", action, _who(caller))
    return _xml(xml, 200, request_id)


def _check_action(action: str, params: Mapping[str, str]) -> None:
    if not action:
        raise StsError("MissingAction", "Missing Action", 400)
    version = IAM_VERSION if action in IAM_ACTIONS else wire.VERSION
    if action not in ACTIONS or params.get("Version") != version:
        raise StsError(
            "InvalidAction",
            f"Could not find operation {action} for version {params.get('Version', '')}",
            400,
        )


def _carry_out(
    state: EmulatorState,
    action: str,
    params: Mapping[str, str],
    caller: Caller,
    request_id: str,
) -> str:
    """Run ``action`` for an authenticated ``caller``; return the XML answer."""
    lifetime_cap = state.faults.lifetime_cap(action)
    if action == "GetSessionToken":
        credentials = state.sts.get_session_token(caller, params, lifetime_cap)
        return wire.session_token_xml(credentials, request_id)
    if action == "AssumeRole":
        credentials = state.sts.assume_role(caller, params, lifetime_cap)
        return wire.assume_role_xml(credentials, request_id)
    return wire.caller_identity_xml(caller.principal, request_id)


def _xml(text: str, status: int, request_id: str) -> web.Response:
    return web.Response(
        text=text,
        status=status,
        content_type="text/xml",
        headers={"x-amzn-RequestId": request_id},
    )


def _drop_connection(request: web.Request) -> NoReturn:
    # An outage: the client sees its connection closed with no answer at all. Cancelling
    # the handler is how aiohttp lets a handler end without writing a response.
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


def _who(caller: Caller | None) -> str:
    if caller is None:
        return "unauthenticated caller"
    return caller.principal.arn


def _record(
    state: EmulatorState,
    action: str,
    params: Mapping[str, str],
    status: int,
    error_code: str | None,
    caller: Caller | None,
) -> None:
    if action not in ACTIONS:
        return
    state.records.append(
        CallRecord(
            action=action,
            status=status,
            error_code=error_code,
            caller_arn=None if caller is None else caller.principal.arn,
            params=tuple((k, params[k]) for k in RECORDED_PARAMS if k in params),
            mfa_code_given="TokenCode" in params,
        )
    )
