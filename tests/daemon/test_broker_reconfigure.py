"""The broker's side of SIGHUP: a new configuration keeps what it leaves unchanged.

Pure: values in, decisions out, time from a fixed clock.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from profiles_support import AUDIT, BASTION, HOUR, PROD

from stsd.daemon.broker import Assume, Broker, ConfigChange, Policy, Serve, Unavailable
from stsd.daemon.errors import NeedsMfa
from stsd.daemon.model import Credentials, RoleCredentials, RoleProfile, Session

NOW = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)

OTHER = replace(BASTION, name="other", mfa_serial="arn:aws:iam::111111111111:mfa/bob")
DEV = RoleProfile(
    name="dev",
    role_arn="arn:aws:iam::444444444444:role/Dev",
    parent="other",
    source="other",
    duration=HOUR,
    region="eu-west-1",
)


def _broker() -> Broker:
    """Both sources logged in; every role holding credentials."""
    broker = Broker([BASTION, OTHER], [PROD, AUDIT, DEV], Policy(), lambda: NOW, lambda: 0.5)
    for source in (BASTION, OTHER):
        broker.session_started(
            Session(
                source=source.name,
                credentials=Credentials("ASIASESSION", "s", "t", NOW + 12 * HOUR),
                user_arn=f"arn:aws:iam::111111111111:user/{source.name}",
                issued_at=NOW,
            )
        )
    for role in (PROD, AUDIT, DEV):
        broker.assumed(
            RoleCredentials(
                profile=role.name,
                credentials=Credentials(f"ASIA{role.name.upper()}", "r", "t", NOW + HOUR),
                assumed_role_arn=role.role_arn,
                issued_at=NOW,
            )
        )
    return broker


def _served(broker: Broker, profile: str) -> bool:
    return isinstance(broker.request(profile), Serve)


def test_the_same_configuration_changes_nothing() -> None:
    broker = _broker()
    change = broker.reconfigure([BASTION, OTHER], [PROD, AUDIT, DEV], Policy())
    assert change == ConfigChange()
    assert change.summary() == "no profile changed"
    assert all(_served(broker, name) for name in ("prod-ro", "audit", "dev"))


def test_a_changed_role_starts_over_and_so_do_roles_chained_from_it() -> None:
    """New role_arn for prod-ro: its credentials, and audit's (assumed with them), go;
    the session stays, so the next request assumes at once without a code."""
    broker = _broker()
    changed = replace(PROD, role_arn="arn:aws:iam::222222222222:role/Other")
    change = broker.reconfigure([BASTION, OTHER], [changed, AUDIT, DEV], Policy())
    assert change.reset == ("audit", "prod-ro")
    decision = broker.request("prod-ro")
    assert isinstance(decision, Assume) and decision.profile == changed
    assert isinstance(broker.request("audit"), Assume)
    assert _served(broker, "dev")


def test_new_keys_drop_the_session_and_every_role_under_it() -> None:
    """Credentials obtained as the old user must not be served for the new one."""
    broker = _broker()
    rotated = replace(BASTION, keys=Credentials("AKIAEXAMPLEKEY000002", "new-secret"))
    change = broker.reconfigure([rotated, OTHER], [PROD, AUDIT, DEV], Policy())
    assert change.reset == ("audit", "bastion", "prod-ro")
    decision = broker.request("prod-ro")
    assert isinstance(decision, Unavailable) and isinstance(decision.error, NeedsMfa)
    assert _served(broker, "dev")


def test_added_and_removed_profiles_are_reported_and_a_removed_one_is_unknown() -> None:
    broker = _broker()
    extra = replace(DEV, name="extra")
    change = broker.reconfigure([BASTION, OTHER], [PROD, AUDIT, extra], Policy())
    assert change.added == ("extra",)
    assert change.removed == ("dev",)
    assert change.summary() == "added extra; removed dev"
    assert not broker.knows("dev")
    assert isinstance(broker.request("extra"), Assume)  # other's session was kept
    removed_source = broker.reconfigure([BASTION], [PROD, AUDIT], Policy())
    assert removed_source.removed == ("extra", "other")


def test_a_new_policy_applies_to_kept_credentials() -> None:
    """Kept credentials are judged by the new numbers from the next request on."""
    now = [NOW]
    broker = Broker([BASTION], [PROD], Policy(), lambda: now[0], lambda: 0.5)
    broker.session_started(
        Session("bastion", Credentials("ASIAS", "s", "t", NOW + 12 * HOUR), "arn:u/a", NOW)
    )
    broker.assumed(
        RoleCredentials("prod-ro", Credentials("ASIAR", "r", "t", NOW + HOUR), "arn:r", NOW)
    )
    now[0] = NOW + timedelta(minutes=2)  # 58 min left: fine under the default floor
    assert _served(broker, "prod-ro")
    strict = Policy(floor=timedelta(minutes=59), trigger=timedelta(minutes=59, seconds=30))
    broker.reconfigure([BASTION], [PROD], strict)
    assert broker.policy == strict
    assert isinstance(broker.request("prod-ro"), Assume)
