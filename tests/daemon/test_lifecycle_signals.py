"""Readiness and signals on a real `stsd serve`: READY/RELOADING/STOPPING to a real
datagram socket, SIGTERM that lets requests finish, SIGHUP with good and broken configs."""

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ALICE, Reply, fetch, login
from lifecycle_support import NotifyListener

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess


@pytest.fixture
def notify(short_tmp: Path) -> Iterator[NotifyListener]:
    with NotifyListener.at_path(short_tmp / "notify") as listener:
        yield listener


@pytest.fixture
def notified_daemon(sandbox: Sandbox, notify: NotifyListener) -> Iterator[DaemonProcess]:
    """A daemon that reports to `notify`, after its READY=1."""
    with sandbox.start_daemon(extra_env=notify.env) as process:
        notify.until("READY")
        yield process


def _wait_for_calls(emulator: EmulatorProcess, action: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while emulator.control.calls()[action] < count:
        assert time.monotonic() < deadline, f"{action} never reached the emulator"
        time.sleep(0.01)


def test_ready_is_sent_once_both_endpoints_answer(sandbox: Sandbox, notify: NotifyListener) -> None:
    """READY=1 comes with a STATUS naming the endpoint, and only when it really serves."""
    with sandbox.start_daemon(extra_env=notify.env) as daemon:
        ready = notify.until("READY")
        assert ready["READY"] == "1"
        address = sandbox.paths.address_file.read_text()
        assert f"http://{address}/credentials/<profile>" in ready["STATUS"]
        assert "3 role profile(s)" in ready["STATUS"]
        assert sandbox.stsd(["status"]).returncode == 0  # no wait needed after READY
        assert fetch(daemon.url("readonly"), daemon.token).status == 503  # NeedsMfa: served
        daemon.process.send_signal(signal.SIGTERM)
        stopping = notify.until("STOPPING")
        assert stopping["STOPPING"] == "1"
        assert daemon.process.wait(10) == 0
    assert "NOTIFY_SOCKET" not in daemon.logs()


def test_ready_reaches_an_abstract_notify_socket(sandbox: Sandbox, short_tmp: Path) -> None:
    """NOTIFY_SOCKET=@name (the abstract namespace, as systemd sets it) works too."""
    with (
        NotifyListener.abstract(f"stsd-test-{short_tmp.name}") as notify,
        sandbox.start_daemon(extra_env=notify.env) as daemon,
    ):
        assert notify.until("READY")["READY"] == "1"
        assert daemon.stop() == 0


def test_sigterm_lets_the_request_in_flight_finish_then_cleans_up(
    sandbox: Sandbox,
    emulator: EmulatorProcess,
    notified_daemon: DaemonProcess,
    notify: NotifyListener,
) -> None:
    """A request waiting on STS when SIGTERM comes still gets its credentials; then the
    daemon removes its socket and address file and exits 0."""
    daemon = notified_daemon
    login(sandbox, emulator)
    emulator.control.set_faults(latency_ms=500, actions=["AssumeRole"])
    replies: list[Reply] = []
    request = threading.Thread(
        target=lambda: replies.append(fetch(daemon.url("readonly"), daemon.token))
    )
    request.start()
    _wait_for_calls(emulator, "AssumeRole", 1)  # the request is now waiting on STS
    daemon.process.send_signal(signal.SIGTERM)
    request.join(10)
    assert [reply.status for reply in replies] == [200]
    assert "AccessKeyId" in replies[0].body
    assert daemon.process.wait(10) == 0
    assert notify.until("STOPPING")["STOPPING"] == "1"
    assert not sandbox.paths.control_socket.exists()
    assert not sandbox.paths.address_file.exists()
    assert sandbox.paths.token_file.exists()  # `stsd env` lines stay valid across restarts
    assert "stopped" in daemon.logs()


def test_sigint_stops_cleanly_too(notified_daemon: DaemonProcess, sandbox: Sandbox) -> None:
    """Ctrl-C on a terminal: the same clean stop, exit 0, no traceback."""
    notified_daemon.process.send_signal(signal.SIGINT)
    assert notified_daemon.process.wait(10) == 0
    assert "Traceback" not in notified_daemon.logs()
    assert not sandbox.paths.control_socket.exists()


_CHANGED_CONFIG = """
[profile extra]
role_arn = arn:aws:iam::222222222222:role/PowerUser
source_profile = bastion
region = eu-west-1
"""


def _reload(daemon: DaemonProcess, notify: NotifyListener) -> dict[str, str]:
    daemon.process.send_signal(signal.SIGHUP)
    assert notify.until("RELOADING")["RELOADING"] == "1"
    return notify.until("READY")


def test_sighup_reloads_and_keeps_what_did_not_change(
    sandbox: Sandbox,
    emulator: EmulatorProcess,
    notified_daemon: DaemonProcess,
    notify: NotifyListener,
) -> None:
    """An unchanged profile keeps its credentials and the session stays (no new code, no
    STS call); a changed profile is assumed afresh; a new one is served."""
    daemon = notified_daemon
    login(sandbox, emulator)
    readonly = fetch(daemon.url("readonly"), daemon.token).body["AccessKeyId"]
    poweruser = fetch(daemon.url("poweruser"), daemon.token).body["AccessKeyId"]
    before = emulator.control.calls()

    config = sandbox.aws_config.read_text()
    changed = config.replace(
        "role/PowerUser\nsource_profile = bastion\n",
        "role/PowerUser\nsource_profile = bastion\nrole_session_name = ops-alice\n",
    )
    assert changed != config
    sandbox.aws_config.write_text(changed + _CHANGED_CONFIG)
    ready = _reload(daemon, notify)
    assert "4 role profile(s)" in ready["STATUS"]

    assert fetch(daemon.url("readonly"), daemon.token).body["AccessKeyId"] == readonly
    assert fetch(daemon.url("poweruser"), daemon.token).body["AccessKeyId"] != poweruser
    assert fetch(daemon.url("extra"), daemon.token).status == 200
    after = emulator.control.calls()
    assert after["GetSessionToken"] == before["GetSessionToken"]
    assert after["AssumeRole"] == before["AssumeRole"] + 2  # poweruser and extra only
    assert "reloaded the configuration: added extra; changed, so forgotten: poweruser" in (
        daemon.logs()
    )
    served = fetch(daemon.url("readonly"), daemon.token).body
    for secret in (served["SecretAccessKey"], served["Token"], ALICE.secret_access_key):
        assert secret not in daemon.logs()


def test_a_login_that_a_reload_overtakes_is_refused_not_misfiled(
    sandbox: Sandbox,
    emulator: EmulatorProcess,
    notified_daemon: DaemonProcess,
    notify: NotifyListener,
) -> None:
    """The source changes while STS checks the code: the session obtained for the old
    definition is not installed; the login says to run it again, and that works."""
    daemon = notified_daemon
    emulator.control.set_faults(latency_ms=1500, actions=["GetSessionToken"])
    code = emulator.control.code(ALICE.name)
    results: list[subprocess.CompletedProcess[str]] = []
    attempt = threading.Thread(
        target=lambda: results.append(sandbox.stsd(["login", "bastion", "--code", code]))
    )
    attempt.start()
    _wait_for_calls(emulator, "GetSessionToken", 1)
    config = sandbox.aws_config.read_text()
    sandbox.aws_config.write_text(config.replace("region = us-east-1", "region = us-west-2", 1))
    assert "reload refused" not in _reload(daemon, notify)["STATUS"]
    attempt.join(30)
    assert results[0].returncode == 1
    assert "was reloaded or logged out while STS checked the code" in results[0].stderr
    assert fetch(daemon.url("readonly"), daemon.token).body["code"] == "NeedsMfa"
    emulator.control.set_faults(latency_ms=0)
    login(sandbox, emulator)
    assert fetch(daemon.url("readonly"), daemon.token).status == 200


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        ("aws_config", "config: not a valid INI file"),
        ("settings", "refresh.floor_seconds must be a whole number"),
    ],
)
def test_sighup_with_a_broken_config_keeps_the_running_one(
    sandbox: Sandbox,
    emulator: EmulatorProcess,
    notified_daemon: DaemonProcess,
    notify: NotifyListener,
    breakage: str,
    reason: str,
) -> None:
    """A broken file is refused with the reason (log, status, service manager); the
    daemon keeps serving what it had; the fixed file is taken on the next SIGHUP."""
    daemon = notified_daemon
    login(sandbox, emulator)
    key = fetch(daemon.url("readonly"), daemon.token).body["AccessKeyId"]
    good_config = sandbox.aws_config.read_text()
    if breakage == "aws_config":
        sandbox.aws_config.write_text("[profile broken\nrole_arn = x\n")
    else:
        sandbox.write_settings("[refresh]\nfloor_seconds = -1\n")

    ready = _reload(daemon, notify)
    assert "reload refused" in ready["STATUS"]
    assert daemon.process.poll() is None
    assert "reload refused, still serving the previous configuration" in daemon.logs()
    assert reason in daemon.logs()
    status = json.loads(sandbox.stsd(["status", "--json"]).stdout)
    assert reason in status["reload_error"]
    assert reason in sandbox.stsd(["status"]).stdout
    assert fetch(daemon.url("readonly"), daemon.token).body["AccessKeyId"] == key

    sandbox.aws_config.write_text(good_config)
    sandbox.write_settings("")
    assert "reload refused" not in _reload(daemon, notify)["STATUS"]
    assert json.loads(sandbox.stsd(["status", "--json"]).stdout)["reload_error"] is None
    assert fetch(daemon.url("readonly"), daemon.token).body["AccessKeyId"] == key


def test_sighup_refuses_to_drop_the_profile_imds_serves(
    sandbox: Sandbox, notify: NotifyListener
) -> None:
    """IMDS routes are set up at start: a reload that drops their profile is refused
    (restart to apply), one that only changes [imds] is taken with a warning."""
    sandbox.write_settings('[imds]\nprofile = "readonly"\n')
    with sandbox.start_daemon(extra_env=notify.env) as daemon:
        notify.until("READY")
        config = sandbox.aws_config.read_text()
        renamed = config.replace("[profile readonly]", "[profile ro2]")
        sandbox.aws_config.write_text(renamed.replace("= readonly", "= ro2"))
        sandbox.write_settings('[imds]\nprofile = "ro2"\n')
        assert "reload refused" in _reload(daemon, notify)["STATUS"]
        assert "the IMDS endpoint serves profile readonly" in daemon.logs()

        sandbox.aws_config.write_text(config)
        sandbox.write_settings('[imds]\nprofile = "poweruser"\n')
        assert "reload refused" not in _reload(daemon, notify)["STATUS"]
        assert "[imds] changed in config.toml: restart stsd" in daemon.logs()


def test_sighup_names_the_settings_only_a_restart_applies(
    sandbox: Sandbox, notify: NotifyListener
) -> None:
    """The connection guard and exec leases take their settings at start: a reload that
    changes them says so, naming each one."""
    with sandbox.start_daemon(extra_env=notify.env) as daemon:
        notify.until("READY")
        sandbox.write_settings("[exec]\nlease_seconds = 30\n[endpoint]\nmax_connections = 64\n")
        assert "reload refused" not in _reload(daemon, notify)["STATUS"]
        logs = daemon.logs()
        assert "[exec] lease_seconds changed in config.toml: restart stsd" in logs
        assert "[endpoint] max_connections changed in config.toml: restart stsd" in logs
        assert "connection_timeout_seconds changed" not in logs  # unchanged: not named
