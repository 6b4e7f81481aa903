"""`stsd serve --event-loop uvloop`: the same daemon on uvloop, and a clear error without it."""

import importlib.util
import os

import pytest
from harness import caller_arn, env_for, fetch, login

from stsd.client.sandbox import Sandbox
from stsd.daemon import eventloop
from stsd.daemon.errors import ConfigError
from stsd.emulator.process import EmulatorProcess


def test_the_daemon_serves_on_uvloop(sandbox: Sandbox, emulator: EmulatorProcess) -> None:
    if importlib.util.find_spec("uvloop") is None and os.environ.get("CI") != "true":
        pytest.skip("uvloop is not installed (pip install -e '.[bench]')")
    args = ["--listen", "127.0.0.1:0", "--event-loop", "uvloop", "--log-level", "debug"]
    with sandbox.start_daemon(args) as daemon:
        daemon.wait_ready()
        login(sandbox, emulator)
        reply = fetch(daemon.url("readonly"), daemon.token)
        assert reply.status == 200, reply.body
        arn = caller_arn(env_for(sandbox, "readonly"))
        assert arn == "arn:aws:sts::222222222222:assumed-role/ReadOnly/alice"
        assert "event loop: uvloop" in daemon.logs()


def test_uvloop_asked_for_but_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"pip install 'stsd\[uvloop\]'"):
        eventloop.check_loop("uvloop")
    eventloop.check_loop("asyncio")  # always there
