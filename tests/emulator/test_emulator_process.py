"""The emulator as a process: ``EmulatorProcess`` and the command line."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from emulator_support import ALICE, sts_client

from stsd.emulator.cli import run
from stsd.emulator.config import DEMO_CONFIG, dump_config
from stsd.emulator.process import EmulatorProcess, EmulatorStartError


def port_is_open(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_process_serves_sts_and_is_gone_after_exit() -> None:
    with EmulatorProcess(DEMO_CONFIG) as emulator:
        url = emulator.url
        assert url.startswith("http://127.0.0.1:")
        client = sts_client(url, ALICE.access_key_id, ALICE.secret_access_key)
        code = emulator.control.code("alice")
        session = client.get_session_token(SerialNumber=ALICE.mfa_serial, TokenCode=code)
        assert emulator.control.calls()["GetSessionToken"] == 1
        log = emulator.read_log()
    assert not port_is_open(url)
    # The log never carries a secret, the code or the issued credentials.
    credentials = session["Credentials"]
    for secret in (
        ALICE.secret_access_key,
        ALICE.totp_seed,
        code,
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    ):
        assert secret not in log
    assert "GetSessionToken" in log


def test_process_takes_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "emulator.toml"
    path.write_text(dump_config(DEMO_CONFIG), encoding="utf-8")
    with EmulatorProcess(config_path=path) as emulator:
        assert emulator.config == DEMO_CONFIG
        assert emulator.control.calls()["AssumeRole"] == 0


def test_process_that_cannot_start_says_why() -> None:
    with EmulatorProcess() as first:
        busy = first.url.removeprefix("http://")
        with (
            pytest.raises(EmulatorStartError, match="cannot listen on .*in use"),
            EmulatorProcess(listen=busy),
        ):
            pass


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stsd.emulator", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_cli_exits_2_with_a_one_line_error_for_a_bad_config(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[users]]\nname = 'alice'\n", encoding="utf-8")
    result = run_cli("--config", str(path), "--listen", "127.0.0.1:0")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"stsd emulator: {path}: users[0].")


@pytest.mark.parametrize("listen", ["0.0.0.0:4599", "192.168.1.1:4599", "example.com:80"])
def test_cli_refuses_to_listen_beyond_loopback(
    listen: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--listen", listen]) == 2
    assert "only loopback" in capsys.readouterr().err


@pytest.mark.parametrize("listen", ["4599", "127.0.0.1:http", "127.0.0.1:70000"])
def test_cli_refuses_a_malformed_listen_address(
    listen: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--listen", listen]) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err


def test_cli_exits_1_when_the_port_is_in_use() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_cli("--listen", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
