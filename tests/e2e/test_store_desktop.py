"""The store on a desktop: the master key in a real Secret Service (a throwaway
gnome-keyring on a private bus, never the developer's), and lock on screen lock."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import fetch, kill_hard, login
from private_bus import emit_signal, private_bus, secret_service

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.daemon.masterkey import KEY_FILE_NAME
from stsd.emulator.process import EmulatorProcess


@pytest.fixture
def bus() -> Iterator[str]:
    with private_bus() as address:
        yield address


def store_status(sandbox: Sandbox) -> dict[str, object]:
    result = sandbox.stsd(["status", "--json"])
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_master_key_in_a_real_secret_service(
    bus: str, short_tmp: Path, emulator: EmulatorProcess
) -> None:
    """With a Secret Service, the key lives there (no key file), survives a kill -9
    restart, and status names the backend. With the service gone, the daemon still runs:
    from memory, saying why, and it sets nothing aside."""
    sandbox = Sandbox(short_tmp, sts_endpoint=emulator.url, keyring_backend=None, dbus_address=bus)
    from stsd.client.demo import demo_aws_files
    from stsd.emulator.config import DEMO_CONFIG

    sandbox.write_aws_files(*demo_aws_files(DEMO_CONFIG))
    with secret_service(bus, short_tmp / "keyring-home"):
        with sandbox.start_daemon() as daemon:
            daemon.wait_ready()
            store = store_status(sandbox)["store"]
            assert isinstance(store, dict)
            assert store["key"].startswith("keyring (") and "SecretService" in store["key"]
            login(sandbox, emulator)
            before = fetch(daemon.url("readonly"), daemon.token).body
            kill_hard(daemon)
        assert not (sandbox.paths.state_dir / KEY_FILE_NAME).exists()
        stored = subprocess.run(
            [
                sys.executable,
                "-c",
                "import keyring, sys; "
                "print(keyring.get_password('stsd', 'state-key ' + sys.argv[1]) is not None)",
                str(sandbox.paths.state_dir),
            ],
            env=sandbox.env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert stored.stdout.strip() == "True"
        with sandbox.start_daemon() as restarted:
            restarted.wait_ready()
            assert fetch(restarted.url("readonly"), restarted.token).body == before
            assert emulator.control.calls()["GetSessionToken"] == 1
    with sandbox.start_daemon() as keyless:  # the Secret Service is gone now
        keyless.wait_ready()
        warnings = store_status(sandbox)["warnings"]
        assert isinstance(warnings, list)
        assert any("working from memory" in w for w in warnings)
        on_disk = sorted(p.name for p in sandbox.paths.state_dir.iterdir())
        assert [name for name in on_disk if not name.startswith("audit.log")] == ["sessions.enc"]
        login(sandbox, emulator)
        assert fetch(keyless.url("readonly"), keyless.token).status == 200


def wait_for_log(daemon: DaemonProcess, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in daemon.logs():
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the log:\n{daemon.logs()}")
        time.sleep(0.05)


def wait_for_status(daemon: DaemonProcess, status: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while fetch(daemon.url("readonly"), daemon.token).status != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"never {status}:\n{daemon.logs()}")
        time.sleep(0.05)


@pytest.mark.parametrize("enabled", [True, False], ids=["enabled", "off-by-default"])
def test_screen_lock_forgets_every_session(
    bus: str, sandbox: Sandbox, emulator: EmulatorProcess, enabled: bool
) -> None:
    """ActiveChanged(true) on the bus: with lock_on_screen_lock, memory and disk are
    wiped; without it (the default) nothing happens. ActiveChanged(false) never locks."""
    sandbox.dbus_address = bus
    if enabled:
        sandbox.write_settings("lock_on_screen_lock = true\n")
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        if enabled:
            wait_for_log(daemon, "screen lock: watching the session bus")
        login(sandbox, emulator)
        assert fetch(daemon.url("readonly"), daemon.token).status == 200
        saver = ("/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver.ActiveChanged")
        emit_signal(bus, *saver, "boolean:false")
        emit_signal(
            bus, "/org/freedesktop/login1/session/c9", "org.freedesktop.login1.Session.Lock"
        )
        emit_signal(bus, *saver, "boolean:true")
        if enabled:
            wait_for_status(daemon, 503)
            assert not (sandbox.paths.state_dir / "sessions.enc").exists()
            assert "the screen saver started" in daemon.logs()
            # A logind Lock whose session can't be shown to be ours locks nothing.
            assert "logind: session" not in daemon.logs()
            assert "can't tell whose session" in daemon.logs()
        else:
            time.sleep(0.5)  # time for a lock to happen, were it going to
            assert fetch(daemon.url("readonly"), daemon.token).status == 200
            assert (sandbox.paths.state_dir / "sessions.enc").exists()
