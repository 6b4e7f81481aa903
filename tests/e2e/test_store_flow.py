"""Encrypted state end to end: restart without a new code, logout and lock wipe the disk,
bad state never stops the daemon. Real daemon processes, the STS emulator, boto3."""

import base64
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import fetch, kill_hard, login

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.daemon.masterkey import KEY_FILE_NAME, load_master_key
from stsd.daemon.store import Store
from stsd.emulator.process import EmulatorProcess


def state_files(sandbox: Sandbox) -> list[str]:
    return sorted(p.name for p in sandbox.paths.state_dir.iterdir())


def status(sandbox: Sandbox) -> dict[str, object]:
    result = sandbox.stsd(["status", "--json"])
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_restart_after_kill_9_needs_no_new_code(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """After `kill -9` and a restart: the same role credentials, zero GetSessionToken."""
    login(sandbox, emulator)
    before = fetch(daemon.url("readonly"), daemon.token).body
    assert fetch(daemon.url("deploy"), daemon.token).status == 200
    calls = emulator.control.calls()
    kill_hard(daemon)
    with sandbox.start_daemon() as restarted:
        restarted.wait_ready()
        after = fetch(restarted.url("readonly"), restarted.token)
        assert after.status == 200
        assert after.body == before  # served from the store, no STS call
        assert fetch(restarted.url("poweruser"), restarted.token).status == 200  # new role
        now = emulator.control.calls()
        assert now["GetSessionToken"] == calls["GetSessionToken"] == 1
        assert now["AssumeRole"] == calls["AssumeRole"] + 1  # poweruser only
        assert "restored 3 session(s)" in restarted.logs()  # session, readonly, deploy


def test_logout_wipes_the_disk_too(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """After `stsd logout` a restarted daemon asks for MFA: nothing was left on disk."""
    login(sandbox, emulator)
    assert fetch(daemon.url("readonly"), daemon.token).status == 200
    assert "sessions.enc" in state_files(sandbox)
    assert sandbox.stsd(["logout"]).returncode == 0
    assert "sessions.enc" not in state_files(sandbox)
    kill_hard(daemon)
    with sandbox.start_daemon() as restarted:
        restarted.wait_ready()
        reply = fetch(restarted.url("readonly"), restarted.token)
        assert reply.status == 503 and reply.body["code"] == "NeedsMfa"


def test_lock_wipes_memory_and_disk(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    login(sandbox, emulator)
    assert fetch(daemon.url("deploy"), daemon.token).status == 200
    assert sandbox.stsd(["lock"]).returncode == 0
    assert "sessions.enc" not in state_files(sandbox)
    assert fetch(daemon.url("deploy"), daemon.token).status == 503


def test_status_says_where_the_state_and_its_key_are(daemon: DaemonProcess) -> None:
    sandbox = daemon.sandbox
    store = status(sandbox)["store"]
    assert isinstance(store, dict)
    assert store["dir"] == str(sandbox.paths.state_dir)
    assert store["key"] == f"file ({sandbox.paths.state_dir / KEY_FILE_NAME})"
    human = sandbox.stsd(["status"]).stdout
    assert f"master key in file ({sandbox.paths.state_dir / KEY_FILE_NAME})" in human


def _truncate(path: Path, sandbox: Sandbox) -> None:
    path.write_bytes(path.read_bytes()[:-7])


def _tamper(path: Path, sandbox: Sandbox) -> None:
    blob = bytearray(path.read_bytes())
    blob[40] ^= 0x80
    path.write_bytes(bytes(blob))


def _future_version(path: Path, sandbox: Sandbox) -> None:
    blob = path.read_bytes()
    path.write_bytes(blob[:4] + b"\x09" + blob[5:])


def _wrong_key(path: Path, sandbox: Sandbox) -> None:
    key_file = sandbox.paths.state_dir / KEY_FILE_NAME
    key_file.write_bytes(base64.b64encode(os.urandom(32)))  # another valid key


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate, "truncated or tampered"),
        (_tamper, "truncated or tampered"),
        (_future_version, "format version 9"),
        (_wrong_key, "another master key"),
    ],
    ids=["truncated", "tampered", "unknown-version", "wrong-key"],
)
def test_bad_state_is_set_aside_and_the_user_prompted(
    sandbox: Sandbox,
    emulator: EmulatorProcess,
    daemon: DaemonProcess,
    damage: Callable[[Path, Sandbox], None],
    reason: str,
) -> None:
    """The daemon starts anyway, keeps the file as sessions.enc.bad-*, says so, asks for MFA."""
    login(sandbox, emulator)
    assert fetch(daemon.url("readonly"), daemon.token).status == 200
    daemon.stop()
    path = sandbox.paths.state_dir / "sessions.enc"
    damage(path, sandbox)
    with sandbox.start_daemon() as restarted:
        restarted.wait_ready()
        reply = fetch(restarted.url("readonly"), restarted.token)
        assert reply.status == 503 and reply.body["code"] == "NeedsMfa"
        assert any(name.startswith("sessions.enc.bad-") for name in state_files(sandbox))
        warnings = status(sandbox)["warnings"]
        assert isinstance(warnings, list)
        assert any(reason in w and "sessions.enc" in w for w in warnings)
        assert reason in restarted.logs()
        login(sandbox, emulator)  # and it works from there
        assert fetch(restarted.url("readonly"), restarted.token).status == 200


def test_state_files_are_private(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    login(sandbox, emulator)
    assert fetch(daemon.url("readonly"), daemon.token).status == 200
    state_dir = sandbox.paths.state_dir
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    for path in state_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    master = load_master_key(state_dir, "file")
    decrypted = Store(state_dir, master.key).read("sessions")
    assert decrypted["sessions"][0]["source"] == "bastion"
