"""A full disk or a read-only state dir never stops the daemon: it works from memory and
`status` says so. Real file systems: a tiny tmpfs mounted over the state dir (root)."""

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import fetch, login

from stsd.client.sandbox import Sandbox
from stsd.emulator.process import EmulatorProcess


def _can_mount() -> bool:
    return os.geteuid() == 0


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True
    )
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def mountable() -> None:
    if not _can_mount():
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs as root: these tests mount a tmpfs")
        pytest.skip("mounting a tmpfs needs root")


def warnings(sandbox: Sandbox) -> list[str]:
    result = sandbox.stsd(["status", "--json"])
    assert result.returncode == 0, result.stderr
    found: list[str] = json.loads(result.stdout)["warnings"]
    return found


def test_full_disk_works_from_memory_with_a_warning(
    mountable: None, sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    """The key file fits, the sessions don't: login and credentials work, status warns;
    once there is room again the warning goes."""
    state_dir = sandbox.paths.state_dir
    with tmpfs(state_dir, "8k"), sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        filler = state_dir / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as handle:
            handle.write(b"\0" * 65536)
        login(sandbox, emulator)
        assert fetch(daemon.url("readonly"), daemon.token).status == 200
        found = warnings(sandbox)
        assert any("the disk is full" in w and "working from memory" in w for w in found)
        filler.unlink()
        assert fetch(daemon.url("poweruser"), daemon.token).status == 200  # writes again
        assert not any("disk is full" in w for w in warnings(sandbox))
        assert (state_dir / "sessions.enc").exists()


def test_read_only_state_dir_works_from_memory_with_a_warning(
    mountable: None, sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    state_dir = sandbox.paths.state_dir
    with tmpfs(state_dir, "1m"):
        with sandbox.start_daemon() as daemon:  # creates the key file while writable
            daemon.wait_ready()
        subprocess.run(["mount", "-o", "remount,ro", str(state_dir)], check=True)
        with sandbox.start_daemon() as daemon:
            daemon.wait_ready()
            login(sandbox, emulator)
            assert fetch(daemon.url("readonly"), daemon.token).status == 200
            assert any("read-only" in w for w in warnings(sandbox))
            assert sandbox.stsd(["logout"]).returncode == 0
            assert fetch(daemon.url("readonly"), daemon.token).status == 503
