"""The drivers one by one: mfa_process, the desktop's dialogs, the prompt's words."""

import asyncio
import logging
import os
import shlex
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stsd.daemon.broker import PromptReason
from stsd.daemon.errors import PromptUnavailable
from stsd.daemon.prompts import PromptRequest, describe, find_code
from stsd.daemon.prompts._dialog import Dialog, find_dialog
from stsd.daemon.prompts.notify import DesktopPrompt
from stsd.daemon.prompts.process import MfaProcessPrompt

REQUEST = PromptRequest(
    source="bastion",
    mfa_serial="arn:aws:iam::111111111111:mfa/alice",
    reason=PromptReason.FIRST_LOGIN,
    session_ends=None,
    mfa_page_url=None,
)
ENV = {"PATH": os.environ["PATH"]}


def _process(command: str, timeout: float = 10.0) -> MfaProcessPrompt:
    return MfaProcessPrompt("bastion", command, ENV, timeout=timeout)


def _python(code: str) -> str:
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


# -- mfa_process ------------------------------------------------------------------------


async def test_mfa_process_code_is_read_from_stdout() -> None:
    """The command's one 6-digit code is the answer, whatever text surrounds it."""
    assert await _process("echo 123456").prompt(REQUEST) == "123456"
    assert await _process("printf 'Code for alice: 654321\\n'").prompt(REQUEST) == "654321"
    assert await _process("echo 111111 | tr 1 2").prompt(REQUEST) == "222222", "a pipeline"


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("exit 3", "exited with status 3"),
        ("echo no code here", "exactly one 6-digit code"),
        ("echo 123456; echo 654321", "exactly one 6-digit code"),
        ("echo 1234567", "exactly one 6-digit code"),
    ],
)
async def test_mfa_process_failure_says_what_went_wrong(command: str, words: str) -> None:
    """A failed command, or one printing no single code, raises PromptUnavailable."""
    with pytest.raises(PromptUnavailable, match=words):
        await _process(command).prompt(REQUEST)


async def test_mfa_process_stderr_is_logged_without_digits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """stderr goes to the log ("touch your key"); a code echoed there is masked."""
    caplog.set_level(logging.INFO)
    command = "echo 'Touch your YubiKey' >&2; echo 'code 987654' >&2; echo 987654"
    assert await _process(command).prompt(REQUEST) == "987654"
    assert "Touch your YubiKey" in caplog.text
    assert "987654" not in caplog.text


async def test_mfa_process_timeout_kills_the_whole_pipeline(tmp_path: Path) -> None:
    """A command that hangs is stopped at the timeout, its children with it."""
    pid_file = tmp_path / "pid"
    command = f"sleep 60 & echo $! > {shlex.quote(str(pid_file))}; wait"
    with pytest.raises(PromptUnavailable, match="within 0.5 s"):
        await _process(command, timeout=0.5).prompt(REQUEST)
    child = int(pid_file.read_text())
    await _gone(child)


async def test_mfa_process_cancelled_kills_the_command(tmp_path: Path) -> None:
    """A code that arrives another way cancels the prompt: the command is stopped."""
    pid_file = tmp_path / "pid"
    command = f"sleep 60 & echo $! > {shlex.quote(str(pid_file))}; wait"
    task = asyncio.create_task(_process(command).prompt(REQUEST))
    while not pid_file.exists() or not pid_file.read_text().strip():
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _gone(int(pid_file.read_text()))


async def _gone(pid: int) -> None:
    """Wait until `pid` is dead (a zombie waiting for init to reap it counts as dead)."""
    stat_file = Path(f"/proc/{pid}/stat")
    for _ in range(500):
        try:
            state = stat_file.read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in ("Z", "X"):
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"process {pid} still runs")


def test_mfa_process_is_unavailable_without_a_command() -> None:
    """No mfa_process configured: the driver says so and is skipped."""
    why = MfaProcessPrompt("bastion", None, ENV).unavailable_reason()
    assert why is not None and "mfa_process" in why and "bastion" in why


# -- dialogs ----------------------------------------------------------------------------


def _standin(directory: Path, name: str, script: str) -> Path:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_dialogs_need_a_display_on_linux(tmp_path: Path) -> None:
    """zenity is used only where there is a display to show it on."""
    _standin(tmp_path, "zenity", "exit 0")
    assert find_dialog({"PATH": str(tmp_path)}, "linux") is None
    found = find_dialog({"PATH": str(tmp_path), "WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert found == Dialog("zenity", str(tmp_path / "zenity"))


def test_dialog_text_is_one_argument_never_script() -> None:
    """A profile name with quotes can't inject into osascript or zenity."""
    text = 'evil" & do shell script "touch /tmp/x'
    for program in ("zenity", "kdialog", "osascript"):
        argv = Dialog(program, f"/bin/{program}").argv("stsd", text)
        assert argv.count(text) == 1 or f"--text={text}" in argv
        assert not any(text in arg and arg != text and arg != f"--text={text}" for arg in argv)


async def test_desktop_dialog_returns_the_typed_code(tmp_path: Path) -> None:
    """With a display and zenity, the desktop driver asks in a hidden-input dialog."""
    args_file = tmp_path / "args"
    _standin(tmp_path, "zenity", f'printf "%s\\n" "$@" > {args_file}; echo " 123 456 "')
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "DISPLAY": ":0"}
    driver = DesktopPrompt(env, "linux")
    assert driver.unavailable_reason() is None
    assert await driver.prompt(REQUEST) == "123456"
    args = args_file.read_text(encoding="utf-8").splitlines()
    assert "--hide-text" in args
    assert any("bastion" in arg for arg in args) and any("mfa/alice" in arg for arg in args)


async def test_desktop_dialog_cancel_is_no_code(tmp_path: Path) -> None:
    """Cancel in the dialog: the user was reached and said no; no code, no error."""
    _standin(tmp_path, "kdialog", "exit 1")
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "DISPLAY": ":0"}
    assert await DesktopPrompt(env, "linux").prompt(REQUEST) is None


async def test_desktop_dialog_garbage_is_a_failure(tmp_path: Path) -> None:
    """Something typed that isn't a code falls through to the next driver."""
    _standin(tmp_path, "zenity", "echo 12345")
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "DISPLAY": ":0"}
    with pytest.raises(PromptUnavailable, match="not a 6-digit code"):
        await DesktopPrompt(env, "linux").prompt(REQUEST)


def test_desktop_without_display_or_bus_says_why() -> None:
    """No display with a dialog and no session bus: skipped, with the reason."""
    why = DesktopPrompt({"PATH": "/usr/bin:/bin"}, "linux").unavailable_reason()
    assert why is not None and "D-Bus" in why
    assert DesktopPrompt({"PATH": "/nowhere"}, "darwin").unavailable_reason() == (
        "osascript not found"
    )


# -- words ------------------------------------------------------------------------------


def test_prompt_text_names_profile_device_and_why() -> None:
    """Every prompt says which profile, which device, and why now."""
    ends = datetime(2030, 1, 1, 14, 32, tzinfo=UTC)
    expected = {
        PromptReason.FIRST_LOGIN: "No MFA session yet",
        PromptReason.SESSION_ENDING: f"ends at {ends.astimezone():%H:%M}",
        PromptReason.SESSION_EXPIRED: "has ended",
        PromptReason.CODE_REJECTED: "last code was rejected",
    }
    for reason, words in expected.items():
        request = PromptRequest("bastion", REQUEST.mfa_serial, reason, ends, None)
        title, text = describe(request)
        assert "bastion" in title
        assert REQUEST.mfa_serial in text and words in text


def test_find_code_wants_exactly_one() -> None:
    assert find_code("123456") == "123456"
    assert find_code("account 111111111111 code 123456") == "123456"
    assert find_code("123456 and 123456") == "123456"
    assert find_code("12345") is None
    assert find_code("123456 654321") is None
