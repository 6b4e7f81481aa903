"""The refresh rules in the running daemon: `stsd serve` talking HTTP to the emulator,
clients in their own processes, lifetimes and [refresh] numbers scaled to seconds.

Each test states one rule of DESIGN.md's "Refresh rules" and checks it end to end:
single flight, background refresh of roles in use only, the wall clock after a sleep,
session renewal, degraded mode, and what each kind of STS refusal turns into.
"""

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ALICE, login
from refresh_support import (
    Burst,
    assume_role_arns,
    epoch_z,
    fetch_now,
    poll,
    refresh_toml,
    scaled_daemon,
    status_of,
    wait_for,
)

from stsd.client.demo import demo_aws_files
from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.config import DEMO_CONFIG, EmulatorConfig, Role
from stsd.emulator.process import EmulatorProcess

READONLY = "arn:aws:iam::222222222222:role/ReadOnly"
DEPLOY = "arn:aws:iam::333333333333:role/path/Deploy"


def role_of(status: dict[str, object], profile: str) -> dict[str, object]:
    roles = status["roles"]
    assert isinstance(roles, list)
    return next(r for r in roles if r["profile"] == profile)


def source_of(status: dict[str, object]) -> dict[str, object]:
    sources = status["sources"]
    assert isinstance(sources, list)
    return dict(sources[0])


# -- single flight ----------------------------------------------------------------------


def test_a_burst_from_several_processes_makes_one_assume_role_per_role(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess, short_tmp: Path
) -> None:
    """300 requests at once from 4 processes, half for a chained profile: every one is
    served, by exactly one AssumeRole per role (the parent's shared with its child)."""
    login(sandbox, emulator)
    emulator.control.set_faults(latency_ms=100)  # the flight is still out when all arrive
    urls = [daemon.url("readonly"), daemon.url("deploy")]
    burst = Burst(short_tmp, urls, daemon.token, processes=4, threads=75).prepare()
    try:
        replies = burst.fire()
    finally:
        burst.kill()
    assert len(replies) == 300
    assert {r.status for r in replies} == {200}
    assert len({r.key for r in replies}) == 2  # one credential set per profile
    assert emulator.control.calls()["AssumeRole"] == 2
    assert sorted(assume_role_arns(emulator.control.requests())) == sorted([DEPLOY, READONLY])
    assert emulator.control.calls()["GetSessionToken"] == 1  # the login's


# -- background refresh and the wall clock ----------------------------------------------


def test_only_roles_in_use_are_refreshed_in_the_background(
    sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    """One request for readonly, then nothing: readonly is re-assumed every cycle with no
    request waiting, and no role nobody asked for is ever assumed."""
    emulator.control.set_faults(credential_lifetime_seconds=8, actions=["AssumeRole"])
    with scaled_daemon(sandbox, refresh_toml(floor=3, trigger=5, hard_floor=1)) as daemon:
        login(sandbox, emulator)
        first = fetch_now(daemon.url("readonly"), daemon.token)
        assert first.status == 200
        wait_for(lambda: emulator.control.calls()["AssumeRole"] >= 3, timeout=20)
        assert set(assume_role_arns(emulator.control.requests())) == {READONLY}
        status = status_of(daemon)
        readonly = role_of(status, "readonly")
        assert readonly["active"] is True and readonly["next_refresh"] is not None
        idle = role_of(status, "poweruser")
        assert idle["active"] is False and idle["next_refresh"] is None
        assert idle["expires"] is None
        again = fetch_now(daemon.url("readonly"), daemon.token)
        assert again.key != first.key  # what the background fetched is what is served
        assert again.left >= 3


def test_after_a_sleep_a_burst_gets_fresh_credentials_from_one_call(
    sandbox: Sandbox, emulator: EmulatorProcess, short_tmp: Path
) -> None:
    """The daemon frozen (SIGSTOP, as a laptop's suspend) until its credentials expired:
    on waking, a burst from several processes gets fresh credentials, never the stale
    ones, and the daemon makes one AssumeRole for all of them."""
    emulator.control.set_faults(credential_lifetime_seconds=7, actions=["AssumeRole"])
    with scaled_daemon(sandbox, refresh_toml(floor=3, trigger=5, hard_floor=1)) as daemon:
        login(sandbox, emulator)
        stale = fetch_now(daemon.url("readonly"), daemon.token)
        assert stale.status == 200
        burst = Burst(short_tmp, [daemon.url("readonly")], daemon.token, processes=3, threads=50)
        try:
            burst.prepare()
            # The refresh on waking is still out when the burst arrives: they must share it.
            emulator.control.set_faults(latency_ms=300)
            os.kill(daemon.process.pid, signal.SIGSTOP)
            try:
                time.sleep(max(0.0, stale.left) + 0.5)  # asleep past the expiry
            finally:
                os.kill(daemon.process.pid, signal.SIGCONT)
            replies = burst.fire()
        finally:
            burst.kill()
    assert {r.status for r in replies} == {200}
    assert stale.key not in {r.key for r in replies}
    assert len({r.key for r in replies}) == 1
    assert min(r.left for r in replies) >= 3  # never under the floor
    assert emulator.control.calls()["AssumeRole"] == 2


# -- session renewal ----------------------------------------------------------------------


def test_session_renewal_prompt_reassume_then_login_resumes(
    sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    """Sessions of 11 s: a prompt goes out while everything works; the role is re-assumed
    shortly before the session ends and served past its end down to the floor; then 503
    naming `stsd login`; a new code resumes serving without a restart."""
    # Refreshes every 6 s: the one from the trigger comes 5 s before the session ends,
    # the next would come after it; only the re-assume rule fetches in the last 2 s.
    lifetime, floor, reassume_before = 11, 4, 2
    emulator.control.set_faults(credential_lifetime_seconds=lifetime)  # sessions and roles
    toml = refresh_toml(
        floor=floor, trigger=5, hard_floor=1, prompt_before=6, reassume_before=reassume_before
    )
    with scaled_daemon(sandbox, toml) as daemon:
        login(sandbox, emulator)
        session = source_of(status_of(daemon))
        assert isinstance(session["session_expires"], str)
        session_end = epoch_z(session["session_expires"])
        prompts: set[object] = set()

        def sample() -> None:
            prompts.add(source_of(status_of(daemon))["pending_prompt"])

        seen = poll(
            daemon.url("readonly"),
            daemon.token,
            until=lambda f: f.status == 503,
            timeout=30,
            also=sample,
        )
        served = [f for f in seen if f.status == 200]
        refused = seen[-1]
        assert "the MFA session ends soon" in prompts  # asked while it still worked
        assert all(f.left >= floor for f in served)
        assert any(f.sent > session_end for f in served)  # the role outlived the session
        # Re-assumed within the last `reassume_before` seconds of the session (the
        # trigger's refresh would expire at most session_end + 8).
        last_expiry = max(epoch_z(f.body["Expiration"]) for f in served)
        assert last_expiry >= session_end + lifetime - reassume_before
        assert refused.body["code"] == "NeedsMfa"
        assert "session has ended" in refused.body["message"]
        assert "stsd login bastion" in refused.body["message"]
        after = source_of(status_of(daemon))
        assert after["session_expires"] is None
        assert after["pending_prompt"] == "the MFA session has ended"

        login(sandbox, emulator)
        resumed = fetch_now(daemon.url("readonly"), daemon.token)
        assert resumed.status == 200 and resumed.left >= floor
        assert resumed.key not in {f.key for f in served}
        assert source_of(status_of(daemon))["pending_prompt"] is None
        assert daemon.process.poll() is None  # the same daemon throughout


# -- STS faults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "clear", "reason"),
    [
        ({"outage": True}, {"outage": False}, "can't reach STS (ConnectionClosedError)"),
        ({"throttle": 10**6}, {"throttle": 0}, "STS is failing (Throttling)"),
    ],
    ids=["outage", "throttling"],
)
def test_sts_failing_serves_cached_credentials_down_to_the_hard_floor(
    sandbox: Sandbox,
    emulator: EmulatorProcess,
    fault: dict[str, object],
    clear: dict[str, object],
    reason: str,
) -> None:
    """While STS fails: cached credentials are served below the floor down to the hard
    floor, `status` says degraded and why, retries back off (no storm), and the first
    success after STS returns ends it all."""
    floor, hard_floor = 4, 1
    emulator.control.set_faults(credential_lifetime_seconds=10, actions=["AssumeRole"])
    toml = refresh_toml(floor=floor, trigger=6, hard_floor=hard_floor)
    with scaled_daemon(sandbox, toml) as daemon:
        login(sandbox, emulator)
        url = daemon.url("readonly")
        first = fetch_now(url, daemon.token)
        assert first.status == 200
        emulator.control.set_faults(**fault)  # type: ignore[arg-type]
        calls_before = emulator.control.calls()["AssumeRole"]
        degraded: list[dict[str, object]] = []
        human: list[str] = []

        def sample() -> None:
            status = status_of(daemon)
            if status["degraded"] and not degraded:
                degraded.append(status)
                human.append(sandbox.stsd(["status"]).stdout)

        seen = poll(url, daemon.token, until=lambda f: f.status == 503, timeout=20, also=sample)
        attempts = emulator.control.calls()["AssumeRole"] - calls_before
        emulator.control.set_faults(**clear)  # type: ignore[arg-type]
        served = [f for f in seen if f.status == 200]
        assert {f.key for f in served} == {first.key}
        assert any(f.left < floor for f in served)  # served below the floor: degraded
        assert all(f.left >= hard_floor for f in served)
        refused = seen[-1].body
        assert refused["code"] == "StsUnavailable"
        assert reason in refused["message"]
        assert degraded, "status never said degraded"
        source = source_of(degraded[0])
        assert source["degraded"] is True
        assert source["degraded_reason"] is not None and reason in str(source["degraded_reason"])
        assert "DEGRADED (bastion)" in human[0] and reason in human[0]
        # Backoff: a few retries in ~9 s (cap 1 s), where a storm would be hundreds.
        assert 2 <= attempts <= 25, attempts

        recovered = poll(url, daemon.token, until=lambda f: f.status == 200, timeout=10)[-1]
        assert recovered.key != first.key and recovered.left >= floor
        status = status_of(daemon)
        assert status["degraded"] is False
        assert role_of(status, "readonly")["last_error"] is None


def test_an_expired_session_is_dropped_and_a_new_code_resumes(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """STS says ExpiredToken (the session ended early on STS's side): the daemon drops the
    session, asks for MFA (503 naming `stsd login`), and a new code resumes serving."""
    login(sandbox, emulator)
    assert fetch_now(daemon.url("readonly"), daemon.token).status == 200
    emulator.control.advance(13 * 3600)  # STS's clock: the 12 h session is over
    refused = fetch_now(daemon.url("poweruser"), daemon.token)
    assert refused.status == 503
    assert refused.body["code"] == "NeedsMfa"
    assert "stsd login bastion" in refused.body["message"]
    source = source_of(status_of(daemon))
    assert source["session_expires"] is None
    assert source["pending_prompt"] == "the MFA session has ended"
    assert fetch_now(daemon.url("poweruser"), daemon.token).status == 503  # no retry loop
    assert emulator.control.calls()["AssumeRole"] == 2
    login(sandbox, emulator)
    assert fetch_now(daemon.url("poweruser"), daemon.token).status == 200


AUDITED = Role(
    arn="arn:aws:iam::222222222222:role/Audited",
    trusted=("111111111111",),
    max_mfa_age=3600,  # the trust policy's aws:MultiFactorAuthAge
)


@pytest.fixture
def audited_emulator() -> Iterator[EmulatorProcess]:
    config = EmulatorConfig(users=DEMO_CONFIG.users, roles=(*DEMO_CONFIG.roles, AUDITED))
    with EmulatorProcess(config) as process:
        yield process


def test_access_denied_late_in_a_session_names_the_role_and_suggests_a_code(
    short_tmp: Path, audited_emulator: EmulatorProcess
) -> None:
    """A role whose trust policy limits MFA age refuses the refresh two hours in: the
    cached credentials are served down to the floor, then a JSON 503 names the role and
    suggests a fresh code; a burst meanwhile starts no retry storm; a code resumes it."""
    emulator = audited_emulator
    sandbox = Sandbox(short_tmp, sts_endpoint=emulator.url)
    sandbox.write_aws_files(*demo_aws_files(emulator.config))
    emulator.control.set_faults(credential_lifetime_seconds=10, actions=["AssumeRole"])
    with scaled_daemon(sandbox, refresh_toml(floor=4, trigger=6, hard_floor=1)) as daemon:
        login(sandbox, emulator)
        url = daemon.url("audited")
        first = fetch_now(url, daemon.token)
        assert first.status == 200
        emulator.control.advance(2 * 3600)  # two hours since the code, on STS's clock
        seen = poll(url, daemon.token, until=lambda f: f.status != 200, timeout=20)
        refused = seen[-1]
        assert all(f.left >= 4 for f in seen[:-1])
        assert refused.status == 503
        assert refused.content_type == "application/json"
        body = refused.body
        assert body["code"] == body["Code"] == "RoleDenied"
        assert AUDITED.arn in body["message"] and "profile audited" in body["message"]
        assert "aws:MultiFactorAuthAge" in body["message"]
        assert "stsd login bastion" in body["message"]
        assert body["message"] == body["Message"]

        before = emulator.control.calls()["AssumeRole"]
        burst = Burst(short_tmp, [url], daemon.token, processes=1, threads=100).prepare()
        try:
            replies = burst.fire()
        finally:
            burst.kill()
        assert {r.status for r in replies} == {503}
        assert emulator.control.calls()["AssumeRole"] - before <= 2  # backoff, not a storm

        code = emulator.control.code(ALICE.name)
        assert sandbox.stsd(["login", "--code", code]).returncode == 0
        resumed = fetch_now(url, daemon.token)
        assert resumed.status == 200 and resumed.key != first.key
