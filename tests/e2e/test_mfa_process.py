"""mfa_process end to end: `stsd serve` runs the command and logs in by itself."""

import sys
import time
from pathlib import Path

from harness import ALICE, caller_arn, env_for, fetch, login

from stsd.client.demo import demo_aws_files
from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.config import DEMO_CONFIG
from stsd.emulator.process import EmulatorProcess

# What `ykman oath accounts code --single` does for the emulator's virtual device:
# print the code the device shows; chat on stderr as a YubiKey prompt would.
CODE_COMMAND = """\
import sys
from stsd.emulator.control import EmulatorControl
code = EmulatorControl(sys.argv[1]).code(sys.argv[2])
print("Touch your YubiKey... (" + code + ")", file=sys.stderr)
print(code)
"""


def with_mfa_process(sandbox: Sandbox, command: str) -> None:
    config, credentials = demo_aws_files(DEMO_CONFIG)
    config = config.replace("[profile bastion]\n", f"[profile bastion]\nmfa_process = {command}\n")
    sandbox.write_aws_files(config, credentials)


def code_command(sandbox: Sandbox, emulator: EmulatorProcess, log: Path | None = None) -> str:
    script = sandbox.root / "code.py"
    script.write_text(CODE_COMMAND, encoding="utf-8")
    tee = f" | tee -a {log}" if log else ""
    return f"{sys.executable} {script} {emulator.url} {ALICE.name}{tee}"


def until_served(daemon: DaemonProcess, profile: str) -> int:
    """Ask as an SDK would, again after a 503, until served; returns the 503s seen."""
    deadline = time.monotonic() + 20
    refused = 0
    while time.monotonic() < deadline:
        reply = fetch(daemon.url(profile), daemon.token)
        if reply.status == 200:
            return refused
        assert reply.status == 503, reply.body
        refused += 1
        time.sleep(0.1)
    raise AssertionError(f"never served:\n{daemon.logs()}")


def test_mfa_process_gets_credentials_without_stsd_login(
    sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    """A source with mfa_process: the first SDK request starts the session by itself,
    and no code reaches the daemon's log."""
    codes = sandbox.root / "codes"
    with_mfa_process(sandbox, code_command(sandbox, emulator, codes))
    with sandbox.start_daemon(("--listen", "127.0.0.1:0", "--log-level", "debug")) as daemon:
        daemon.wait_ready()
        until_served(daemon, "readonly")
        arn = caller_arn(env_for(sandbox, "readonly"))
        logs = daemon.logs()
    assert arn == "arn:aws:sts::222222222222:assumed-role/ReadOnly/alice"
    assert emulator.control.calls()["GetSessionToken"] == 1
    assert "MFA code from driver mfa_process accepted" in logs
    assert "Touch your YubiKey" in logs, "stderr of the command is logged"
    for code in codes.read_text(encoding="utf-8").split():
        assert code not in logs


def test_a_failing_mfa_process_falls_through_to_the_terminal(
    sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    """The command fails: the log says why, the next driver asks, `stsd login` works."""
    with_mfa_process(sandbox, "echo 'no YubiKey found' >&2; exit 3")
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        reply = fetch(daemon.url("readonly"), daemon.token)
        assert reply.status == 503 and "stsd login bastion" in reply.body["message"]
        login(sandbox, emulator)
        assert fetch(daemon.url("readonly"), daemon.token).status == 200
        logs = daemon.logs()
    assert "MFA driver mfa_process failed: mfa_process for bastion exited with status 3" in logs
    assert "no YubiKey found" in logs
    assert "Run `stsd login bastion` in a terminal" in logs


def test_unknown_driver_in_config_toml_lists_the_available_ones(sandbox: Sandbox) -> None:
    """A typo in mfa_drivers stops `stsd serve` with exit 78 and the list of drivers."""
    sandbox.write_settings('[sources.bastion]\nmfa_drivers = ["mfa_process", "yubikey"]\n')
    with sandbox.start_daemon() as daemon:
        assert daemon.process.wait(30) == 78
        logs = daemon.logs()
    assert "'yubikey'" in logs
    assert "available: mfa_process" in logs and "terminal" in logs


def test_driver_order_is_chosen_per_source(sandbox: Sandbox, emulator: EmulatorProcess) -> None:
    """`[sources.bastion] mfa_drivers = ["terminal"]`: the command isn't even run."""
    marker = sandbox.root / "ran"
    with_mfa_process(sandbox, f"touch {marker}; echo 123456")
    sandbox.write_settings('[sources.bastion]\nmfa_drivers = ["terminal"]\n')
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        assert fetch(daemon.url("readonly"), daemon.token).status == 503
        deadline = time.monotonic() + 10
        while "stsd login bastion` in a terminal" not in daemon.logs():
            assert time.monotonic() < deadline, daemon.logs()
            time.sleep(0.05)
    assert not marker.exists()
