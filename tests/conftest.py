"""Shared fixtures: a real STS emulator process, a sandboxed home, a real daemon."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stsd.client.demo import demo_aws_files
from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.config import DEMO_CONFIG
from stsd.emulator.process import EmulatorProcess


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temp dir with a short path: Unix socket paths must stay under 100 bytes."""
    root = Path(tempfile.mkdtemp(prefix="stsd-t-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(DEMO_CONFIG) as process:
        yield process


@pytest.fixture
def sandbox(short_tmp: Path, emulator: EmulatorProcess) -> Sandbox:
    box = Sandbox(short_tmp, sts_endpoint=emulator.url)
    box.write_aws_files(*demo_aws_files(DEMO_CONFIG))
    return box


@pytest.fixture
def daemon(sandbox: Sandbox) -> Iterator[DaemonProcess]:
    with sandbox.start_daemon() as process:
        process.wait_ready()
        yield process


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in a test may reach the developer's own AWS setup."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
