"""A private D-Bus and a throwaway Secret Service (gnome-keyring) for tests.

Never the developer's own session: each test gets its own `dbus-daemon` and, when it
asks, a gnome-keyring-daemon unlocked with a test password, keeping its keyrings under
the test's directory. Missing tools skip a test locally and fail it in CI.
"""

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["emit_signal", "private_bus", "require_tools", "secret_service"]


def require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = f"needs {', '.join(missing)} (scripts/setup installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _stop(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def private_bus() -> Iterator[str]:
    """A fresh session-type bus; yields its address."""
    require_tools("dbus-daemon", "dbus-send")
    process = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().decode().strip()
        assert address, "dbus-daemon printed no address"
        yield address
    finally:
        _stop(process)
        if process.stdout is not None:
            process.stdout.close()


def _name_owned(address: str, name: str) -> bool:
    result = subprocess.run(
        [
            "dbus-send",
            f"--bus={address}",
            "--dest=org.freedesktop.DBus",
            "--type=method_call",
            "--print-reply",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            f"string:{name}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return "boolean true" in result.stdout


@contextlib.contextmanager
def secret_service(address: str, home: Path) -> Iterator[None]:
    """gnome-keyring's Secret Service on `address`, its files under `home`."""
    require_tools("gnome-keyring-daemon")
    runtime = home / "keyring-run"
    runtime.mkdir(parents=True, mode=0o700, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_RUNTIME_DIR": str(runtime),
        "DBUS_SESSION_BUS_ADDRESS": address,
    }
    process = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(b"test-only-password")
        process.stdin.close()
        deadline = time.monotonic() + 15
        while not _name_owned(address, "org.freedesktop.secrets"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gnome-keyring-daemon did not start a Secret Service")
            time.sleep(0.05)
        yield
    finally:
        _stop(process)


def emit_signal(address: str, path: str, member: str, *args: str) -> None:
    """Send a D-Bus signal, e.g. ("/org/freedesktop/ScreenSaver",
    "org.freedesktop.ScreenSaver.ActiveChanged", "boolean:true")."""
    subprocess.run(
        ["dbus-send", f"--bus={address}", "--type=signal", path, member, *args], check=True
    )
