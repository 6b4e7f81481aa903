"""Reprs (what a traceback, a debugger or a careless log line shows) hold no secret."""

from datetime import UTC, datetime, timedelta

from stsd.daemon.model import Credentials, RoleCredentials, Session, SourceProfile
from stsd.daemon.tokens import TokenRegistry

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_credentials_show_the_last_four_of_the_key_id_only() -> None:
    creds = Credentials(KEY_ID, SECRET, TOKEN, NOW + timedelta(hours=1), "222222222222")
    shown = repr(creds) + str(creds)
    assert "…MPLE" in shown and "222222222222" in shown
    for secret in (KEY_ID, SECRET, TOKEN):
        assert secret not in shown


def test_profiles_sessions_and_roles_show_no_secret() -> None:
    creds = Credentials(KEY_ID, SECRET, TOKEN, NOW + timedelta(hours=1))
    values = [
        SourceProfile("bastion", Credentials(KEY_ID, SECRET), "arn:aws:iam::1:mfa/a", None, "f"),
        Session("bastion", creds, "arn:aws:iam::111111111111:user/alice", NOW),
        RoleCredentials("ro", creds, "arn:aws:sts::2:assumed-role/R/alice", NOW),
    ]
    for value in values:
        for secret in (KEY_ID, SECRET, TOKEN):
            assert secret not in repr(value)


def test_leases_and_the_registry_show_no_token() -> None:
    registry = TokenRegistry("d" * 43, lease_seconds=10)
    lease = registry.issue("readonly", "exec: terraform")
    assert lease.token not in repr(lease)
    assert "exec: terraform" in repr(lease)
    assert "d" * 43 not in repr(registry.__dict__) and lease.token not in repr(vars(registry))
