"""`stsd status` for people: what each line says about sources, roles and degraded mode."""

from typing import Any

from stsd.client.status import format_status


def status(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": "0.1.0",
        "now": "2024-05-06T09:30:00Z",
        "started": "2024-05-06T08:00:00Z",
        "sources": [
            {
                "name": "bastion",
                "mfa_serial": "arn:aws:iam::111111111111:mfa/alice",
                "user_arn": "arn:aws:iam::111111111111:user/alice",
                "session_started": "2024-05-06T08:00:00Z",
                "session_expires": "2099-05-06T20:00:00Z",
                "pending_prompt": None,
                "degraded": False,
                "degraded_reason": None,
            }
        ],
        "roles": [
            {
                "profile": "prod-ro",
                "role_arn": "arn:aws:iam::222222222222:role/ReadOnly",
                "source": "bastion",
                "expires": "2099-05-06T10:00:00Z",
                "serve_until": "2099-05-06T09:40:00Z",
                "next_refresh": "2099-05-06T09:30:00Z",
                "last_used": "2024-05-06T09:29:00Z",
                "active": True,
                "degraded": False,
                "last_error": None,
                "last_error_at": None,
            },
            {
                "profile": "prod-admin",
                "role_arn": "arn:aws:iam::222222222222:role/PowerUser",
                "source": "bastion",
                "expires": None,
                "serve_until": None,
                "next_refresh": None,
                "last_used": "2024-05-01T09:29:00Z",
                "active": False,
                "degraded": False,
                "last_error": None,
                "last_error_at": None,
            },
        ],
        "degraded": False,
        "refresh": {"hard_floor_seconds": 300.0},
        "warnings": [],
    }
    base.update(changes)
    return base


def test_healthy_status_shows_session_expiry_and_next_refresh() -> None:
    """Each source's session, each role's expiry, when it is served until, next refresh."""
    text = format_status(status(), "127.0.0.1:9925")
    assert "endpoint http://127.0.0.1:9925/credentials/<profile>" in text
    assert "session: arn:aws:iam::111111111111:user/alice until" in text
    assert "profile prod-ro -> arn:aws:iam::222222222222:role/ReadOnly" in text
    assert "credentials: until" in text and "served until" in text
    assert "next refresh:" in text
    assert "DEGRADED" not in text
    assert "waiting for an MFA code" not in text


def test_idle_role_says_it_is_not_refreshed() -> None:
    """A role nobody used lately: no credentials and no background refresh, said so."""
    text = format_status(status(), None)
    admin = text.split("profile prod-admin")[1]
    assert "credentials: none" in admin
    assert "idle: not refreshed in the background until used again" in admin


def test_degraded_source_says_why_and_how_far_credentials_go() -> None:
    """Degraded: a banner naming the source, the STS failure, and the hard floor."""
    data = status()
    data["degraded"] = True
    data["sources"][0].update(
        degraded=True, degraded_reason="can't reach STS (EndpointConnectionError)"
    )
    data["roles"][0].update(
        degraded=True,
        last_error="can't reach STS (EndpointConnectionError)",
        last_error_at="2024-05-06T09:29:30Z",
    )
    text = format_status(data, None)
    assert text.splitlines()[1] == (
        "DEGRADED (bastion): can't reach STS (EndpointConnectionError); cached credentials "
        "are served down to the hard floor (5 min left)"
    )
    assert "last error (at " in text
    assert "): can't reach STS (EndpointConnectionError)" in text


def test_pending_prompt_says_what_to_run() -> None:
    """An MFA code wanted: why, and the command that gives it."""
    data = status()
    data["sources"][0].update(
        session_expires=None, user_arn=None, pending_prompt="the MFA session has ended"
    )
    text = format_status(data, None)
    assert "session: none" in text
    assert "waiting for an MFA code (the MFA session has ended): stsd login bastion" in text


def test_warnings_are_listed() -> None:
    """Config warnings (e.g. a duration_seconds raised to 3600) stay visible."""
    data = status(warnings=["profile x: duration_seconds 600 raised to 3600"])
    assert "warning: profile x: duration_seconds 600 raised to 3600" in format_status(data, None)
