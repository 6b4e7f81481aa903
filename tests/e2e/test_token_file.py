"""The default token: its file, stability across restarts, `stsd token rotate`, and
`stsd env --no-token-env` (SDKs that read only the file follow a rotation)."""

import json
import stat
import subprocess
import sys

from harness import caller_arn, env_for, fetch, login

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess

TOKEN_SHAPE = r"^[A-Za-z0-9_-]{43}$"


def test_token_file_is_private_bare_and_stable_across_restarts(
    sandbox: Sandbox, daemon: DaemonProcess
) -> None:
    """0600, the bare token (no newline), and the same token after a restart: env lines
    in open shells stay valid."""
    path = sandbox.paths.token_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    content = path.read_bytes()
    assert not content.endswith(b"\n") and len(content) == 43
    before = daemon.token
    daemon.stop()
    with sandbox.start_daemon() as second:
        second.wait_ready()
        assert second.token == before
        assert fetch(second.url("readonly"), before).status == 503  # accepted: needs MFA


def test_rotate_with_the_daemon_up_retires_the_old_token_at_once(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    login(sandbox, emulator)
    old = daemon.token
    result = sandbox.stsd(["token", "rotate"])
    assert result.returncode == 0, result.stderr
    new = daemon.token
    assert new != old
    assert old not in result.stdout + result.stderr and new not in result.stdout
    assert fetch(daemon.url("readonly"), old).status == 403
    assert fetch(daemon.url("readonly"), new).status == 200
    path = sandbox.paths.token_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.read_bytes().endswith(b"\n")
    leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(".token")]
    assert leftovers == []  # no temp files left behind


def test_rotate_with_the_daemon_down_is_used_at_the_next_start(sandbox: Sandbox) -> None:
    first = sandbox.stsd(["env", "readonly"])  # creates the token file
    assert first.returncode == 0
    old = sandbox.paths.token_file.read_text()
    result = sandbox.stsd(["token", "rotate"])
    assert result.returncode == 0, result.stderr
    assert "not running" in result.stdout
    new = sandbox.paths.token_file.read_text()
    assert new != old
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        assert daemon.token == new
        assert fetch(daemon.url("readonly"), new).status == 503
        assert fetch(daemon.url("readonly"), old).status == 403


READER = """
import json, os, re, sys
path, stop = sys.argv[1], sys.argv[2]
shape = re.compile(sys.argv[3])
reads, bad, seen = 0, [], set()
while not os.path.exists(stop) or reads < 100:
    with open(path, "rb") as handle:
        content = handle.read()
    reads += 1
    text = content.decode("ascii", "replace")
    if not shape.match(text):
        bad.append(text)
    seen.add(text)
print(json.dumps({"reads": reads, "bad": bad[:5], "distinct": len(seen)}))
"""


def test_readers_never_see_a_partial_token_during_rotations(
    sandbox: Sandbox, daemon: DaemonProcess
) -> None:
    """Rename-based replacement: every read, by any number of readers, is a whole token."""
    stop = sandbox.root / "stop"
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(sandbox.paths.token_file), str(stop), TOKEN_SHAPE],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for _ in range(15):
            assert sandbox.stsd(["token", "rotate"]).returncode == 0
    finally:
        stop.touch()
        reports = [json.loads(reader.communicate(timeout=30)[0]) for reader in readers]
    for report in reports:
        assert report["bad"] == []
        assert report["distinct"] > 1  # the readers really did overlap rotations


def test_no_token_env_uses_the_file_only_and_follows_rotation(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """`--no-token-env` leaves the variable out (and unsets a stale one): boto3 reads
    the file on each fetch, so it keeps working after `stsd token rotate`."""
    data = json.loads(sandbox.stsd(["env", "readonly", "--json", "--no-token-env"]).stdout)
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN" not in data["set"]
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN" in data["unset"]
    assert data["set"]["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] == str(sandbox.paths.token_file)
    login(sandbox, emulator)
    env = {**sandbox.env, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "stale"}
    env.update(data["set"])
    for name in data["unset"]:
        env.pop(name, None)
    role = "arn:aws:sts::222222222222:assumed-role/ReadOnly/alice"
    assert caller_arn(env) == role
    assert sandbox.stsd(["token", "rotate"]).returncode == 0
    assert caller_arn(env) == role
    # The variable, by contrast, goes stale with a rotation.
    with_variable = env_for(sandbox, "readonly")
    assert sandbox.stsd(["token", "rotate"]).returncode == 0
    stale = fetch(
        with_variable["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
        with_variable["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
    )
    assert stale.status == 403
