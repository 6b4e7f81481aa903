"""`stsd exec`: a scoped token on a lease, a clean child environment, signals and exit
codes passed through. Real daemon, real CLI processes, real boto3 children."""

import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness import ALICE, CALLER_ARN, fetch, login

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess

LEASE_SECONDS = 2


@pytest.fixture
def daemon(sandbox: Sandbox) -> Iterator[DaemonProcess]:
    """The daemon with a short exec lease, so a killed CLI's token dies quickly."""
    sandbox.write_settings(f"[exec]\nlease_seconds = {LEASE_SECONDS}\n")
    with sandbox.start_daemon() as process:
        process.wait_ready()
        yield process


def stsd_exec(
    sandbox: Sandbox, argv: list[str], env: dict[str, str] | None = None
) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, "-m", "stsd.client", "exec", *argv],
        env=env or sandbox.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_exec(sandbox: Sandbox, profile: str, code: str) -> "subprocess.Popen[str]":
    """`stsd exec PROFILE -- python -c CODE` in the background, stdout piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "stsd.client", "exec", profile, "--", sys.executable, "-c", code],
        env=sandbox.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until `predicate()`; returns how long it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


SHOW_ENV = """
import json, os, stat
names = [n for n in os.environ if n.startswith("AWS_")]
path = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
with open(path) as handle:
    content = handle.read()
print(json.dumps({
    "env": {n: os.environ[n] for n in names},
    "file_mode": stat.S_IMODE(os.stat(path).st_mode),
    "file_content": content,
}))
"""


def test_child_environment_and_token_file(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    """Full URI for PROFILE, its own token (0600 file, no newline, and the variable),
    the profile's region, and nothing left that would shadow the container provider."""
    parent_env = {
        **sandbox.env,
        "AWS_PROFILE": "oops",
        "AWS_ACCESS_KEY_ID": "AKIAOOPS",
        "AWS_SECRET_ACCESS_KEY": "oops",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/oops",
        "AWS_ROLE_ARN": "arn:aws:iam::1:role/oops",
    }
    result = stsd_exec(sandbox, ["readonly", "--", sys.executable, "-c", SHOW_ENV], parent_env)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    env = seen["env"]
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == daemon.url("readonly")
    token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert seen["file_content"] == token  # no newline, same token
    assert seen["file_mode"] == 0o600
    assert token != daemon.token  # a token of its own, not the default one
    token_file = Path(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
    assert token_file.parent == sandbox.paths.runtime_dir
    assert not token_file.exists()  # removed when the command ended
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    for name in (
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_ROLE_ARN",
    ):
        assert name not in env
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == str(sandbox.aws_credentials)  # untouched


FETCH_BOTH = """
import json, os, urllib.error, urllib.request
uri = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
out = {"token": token}
for name, url in (("own", uri), ("other", uri.rsplit("/", 1)[0] + "/poweruser")):
    request = urllib.request.Request(url, headers={"Authorization": token})
    try:
        with urllib.request.urlopen(request) as response:
            out[name] = [response.status, json.load(response)]
    except urllib.error.HTTPError as error:
        out[name] = [error.code, json.loads(error.read())]
print(json.dumps(out))
"""


def test_scoped_token_serves_its_profile_and_dies_with_the_command(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """200 for PROFILE, 403 for another profile; after CMD exits, 403 for everything."""
    login(sandbox, emulator)
    result = stsd_exec(sandbox, ["readonly", "--", sys.executable, "-c", FETCH_BOTH])
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    status, body = seen["own"]
    assert status == 200 and body["AccountId"] == "222222222222"
    status, body = seen["other"]
    assert status == 403
    assert body["code"] == "ProfileNotAllowed"
    assert "AccessKeyId" not in body
    after = fetch(daemon.url("readonly"), seen["token"])
    assert after.status == 403 and after.body["code"] == "InvalidToken"
    assert fetch(daemon.url("readonly"), daemon.token).status == 200  # default unaffected


def test_boto3_child_is_the_role(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    login(sandbox, emulator)
    result = stsd_exec(sandbox, ["deploy", "--", sys.executable, "-c", CALLER_ARN])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "arn:aws:sts::333333333333:assumed-role/Deploy/alice"


def test_boto3_child_is_the_role_despite_keys_in_default(
    sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    """Bastion keys under [default]: a plain boto3 would use them (see the env test);
    exec hides the credentials file from CMD, warns, and CMD runs as the role."""
    config = sandbox.aws_config.read_text().replace("[profile bastion]", "[default]")
    config = config.replace("source_profile = bastion", "source_profile = default")
    credentials = sandbox.aws_credentials.read_text().replace("[bastion]", "[default]")
    sandbox.write_aws_files(config, credentials)
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        login(sandbox, emulator, source="default")
        result = stsd_exec(sandbox, ["readonly", "--", sys.executable, "-c", CALLER_ARN])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "arn:aws:sts::222222222222:assumed-role/ReadOnly/alice"
    assert "[default]" in result.stderr and "stsd keys import" in result.stderr
    assert f"AWS_SHARED_CREDENTIALS_FILE={os.devnull}" in result.stderr


HOLD = """
import os, sys, time
print(os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"], os.getpid(), flush=True)
time.sleep(60)
"""


@dataclass(frozen=True)
class Held:
    token: str
    child_pid: int


@contextlib.contextmanager
def holding(cli: "subprocess.Popen[str]") -> Iterator[Held]:
    """The token and pid a HOLD child printed; the child is killed at the end."""
    assert cli.stdout is not None
    token, pid = cli.stdout.readline().split()
    try:
        yield Held(token, int(pid))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def test_token_dies_within_the_lease_when_the_cli_is_killed(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """SIGKILL to `stsd exec` while CMD keeps running: the token stops working within
    a lease (nothing renews it), though CMD is still alive."""
    login(sandbox, emulator)
    with start_exec(sandbox, "readonly", HOLD) as cli, holding(cli) as held:
        token = held.token
        assert fetch(daemon.url("readonly"), token).status == 200
        # Past the first lease: it is renewed while the CLI lives.
        time.sleep(LEASE_SECONDS * 1.5)
        assert fetch(daemon.url("readonly"), token).status == 200
        cli.kill()
        cli.wait()
        waited = wait_for(
            lambda: fetch(daemon.url("readonly"), token).status == 403,
            LEASE_SECONDS * 3,
            "the token to die",
        )
        assert waited <= LEASE_SECONDS + 1
        os.kill(held.child_pid, 0)  # CMD is still running


def test_lease_survives_a_daemon_restart(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """The daemon restarts on the same port: the running CLI's next renewal restores
    the token, so a long command keeps getting credentials."""
    address = daemon.address
    login(sandbox, emulator)
    with start_exec(sandbox, "readonly", HOLD) as cli, holding(cli) as held:
        daemon.stop()
        with sandbox.start_daemon(["--listen", address]) as second:
            second.wait_ready()
            login(sandbox, emulator)
            wait_for(
                lambda: fetch(second.url("readonly"), held.token).status == 200,
                LEASE_SECONDS * 3,
                "the lease to be restored",
            )


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        ([sys.executable, "-c", "raise SystemExit(7)"], 7, ""),
        (["false"], 1, ""),
        (["/nonexistent/tool"], 127, "command not found"),
        (["/dev/null"], 126, "permission denied"),
    ],
    ids=["seven", "false", "not-found", "not-executable"],
)
def test_exit_codes_pass_through(
    sandbox: Sandbox, daemon: DaemonProcess, argv: list[str], code: int, message: str
) -> None:
    result = stsd_exec(sandbox, ["readonly", "--", *argv])
    assert result.returncode == code
    assert message in result.stderr


def test_arguments_reach_the_command_unchanged_without_a_shell(
    sandbox: Sandbox, daemon: DaemonProcess
) -> None:
    args = ["$HOME", "a b", "*", "--", "'quoted'", ";", "-x"]
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    result = stsd_exec(sandbox, ["readonly", "--", sys.executable, "-c", code, *args])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == args


TRAP = """
import signal, sys, time
def handler(signum, frame):
    print("got", signal.Signals(signum).name, flush=True)
    sys.exit(40 + signum)
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, handler)
print("ready", flush=True)
time.sleep(60)
"""

DEFAULT = """
import signal, time
signal.signal(signal.SIGINT, signal.SIG_DFL)  # die of it, like most programs
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_signals_reach_the_command_and_its_exit_code_returns(
    sandbox: Sandbox, daemon: DaemonProcess, signum: signal.Signals
) -> None:
    """A signal to `stsd exec` reaches CMD once; CMD's exit code comes back."""
    cli = start_exec(sandbox, "readonly", TRAP)
    assert cli.stdout is not None
    assert cli.stdout.readline() == "ready\n"
    cli.send_signal(signum)
    out, err = cli.communicate(timeout=30)
    assert out == f"got {signum.name}\n", err
    assert cli.returncode == 40 + signum


def test_status_lists_running_commands(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    """`stsd status` names each running `stsd exec` (label and profile, never its token)
    until the command ends."""

    def status_json() -> dict[str, object]:
        result = sandbox.stsd(["status", "--json"])
        assert result.returncode == 0, result.stderr
        shown: dict[str, object] = json.loads(result.stdout)
        return shown

    assert status_json()["exec_leases"] == []
    cli = start_exec(sandbox, "readonly", TRAP)
    assert cli.stdout is not None
    try:
        assert cli.stdout.readline() == "ready\n"
        label = f"exec: {Path(sys.executable).name}"
        assert status_json()["exec_leases"] == [{"label": label, "profile": "readonly"}]
        human = sandbox.stsd(["status"]).stdout
        assert f"stsd exec: 1 running\n  {label} (profile readonly)" in human
    finally:
        cli.send_signal(signal.SIGTERM)
        cli.communicate(timeout=30)
    assert status_json()["exec_leases"] == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_a_command_killed_by_a_signal_kills_stsd_exec_alike(
    sandbox: Sandbox, daemon: DaemonProcess, signum: signal.Signals
) -> None:
    """CMD dies of the signal: `stsd exec` ends by the same signal, so a calling
    shell sees what happened (and a script stops on Ctrl-C)."""
    cli = start_exec(sandbox, "readonly", DEFAULT)
    assert cli.stdout is not None
    assert cli.stdout.readline() == "ready\n"
    cli.send_signal(signum)
    _, err = cli.communicate(timeout=30)
    assert cli.returncode == -signum, err
    assert "Traceback" not in err


def test_exec_without_a_daemon_says_so(sandbox: Sandbox) -> None:
    result = stsd_exec(sandbox, ["readonly", "--", "true"])
    assert result.returncode == 1
    assert "not running" in result.stderr and "stsd serve" in result.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["readonly"], "which command?"), (["nope", "--", "true"], "not a role profile")],
    ids=["no-command", "unknown-profile"],
)
def test_exec_usage_errors(
    sandbox: Sandbox, daemon: DaemonProcess, argv: list[str], message: str
) -> None:
    result = stsd_exec(sandbox, argv)
    assert result.returncode == 2
    assert message in result.stderr


def test_exec_from_a_terminal_asks_for_the_code_first(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """No session yet, and a person at a terminal: exec asks there (hidden), then CMD
    runs as the role. Without a terminal it doesn't ask (the other tests)."""
    master, slave = os.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    argv = ["exec", "readonly", "--", sys.executable, "-c", CALLER_ARN]
    with subprocess.Popen(
        [sys.executable, "-m", "stsd.client", *argv],
        env=sandbox.env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=take_terminal,  # the pty becomes its controlling terminal: /dev/tty
    ) as cli:
        os.close(slave)
        screen = read_until(master, b"MFA code for bastion")
        code = emulator.control.code(ALICE.name)
        os.write(master, code.encode() + b"\n")
        screen += read_until(master, b"assumed-role/ReadOnly/alice")
        assert cli.wait(30) == 0
        os.close(master)
    assert code.encode() not in screen  # typed without echo


def read_until(master: int, text: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, seen
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    return seen
