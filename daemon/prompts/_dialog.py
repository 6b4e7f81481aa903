"""Input dialogs that take a code directly: zenity, kdialog (Linux), osascript (macOS).

Each dialog's text goes in as one argv element, never spliced into a script, so a
profile name can't inject anything (osascript reads it with `on run argv`).
"""

import asyncio
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stsd.daemon.errors import PromptUnavailable
from stsd.daemon.prompts._spawn import kill_one, start
from stsd.daemon.prompts.base import find_code

__all__ = ["Dialog", "find_dialog", "run_dialog"]

# As long as the MFA page's link lives: after that the prompt is stale anyway.
DIALOG_TIMEOUT_SECONDS = 600

_OSASCRIPT_DIALOG = (
    "on run argv",
    "display notification (item 2 of argv) with title (item 1 of argv)",
    'set answer to display dialog (item 2 of argv) with title (item 1 of argv) default answer ""'
    f' with hidden answer giving up after {DIALOG_TIMEOUT_SECONDS} buttons {{"Cancel", "OK"}}'
    ' default button "OK"',
    'if gave up of answer then return ""',
    "return text returned of answer",
    "end run",
)


@dataclass(frozen=True, slots=True)
class Dialog:
    """A dialog program found here and how to ask it for hidden input."""

    program: str
    path: str

    def argv(self, title: str, text: str) -> list[str]:
        if self.program == "zenity":
            return [
                self.path,
                "--entry",
                "--hide-text",
                f"--title={title}",
                f"--text={text}",
                f"--timeout={DIALOG_TIMEOUT_SECONDS}",
            ]
        if self.program == "kdialog":
            return [self.path, "--title", title, "--password", text]
        script: list[str] = []
        for line in _OSASCRIPT_DIALOG:
            script += ["-e", line]
        return [self.path, *script, title, text]


def find_dialog(env: Mapping[str, str], platform: str) -> Dialog | None:
    """The dialog program this desktop offers, or None (no display, none installed)."""
    path = env.get("PATH") or os.defpath
    if platform == "darwin":
        found = shutil.which("osascript", path=path)
        return Dialog("osascript", found) if found else None
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return None
    for program in ("zenity", "kdialog"):
        found = shutil.which(program, path=path)
        if found:
            return Dialog(program, found)
    return None


async def run_dialog(
    argv: Sequence[str], env: Mapping[str, str], timeout: float = DIALOG_TIMEOUT_SECONDS + 5
) -> str | None:
    """Show the dialog; the code typed, or None when the user cancelled or walked away.

    Raises:
        PromptUnavailable: the program failed, or the answer is not a 6-digit code.
    """
    process = await start(
        lambda: asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=dict(env),
        ),
        kill_one,
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        return None
    finally:
        if process.returncode is None:  # cancelled (the code came another way) or timed out
            kill_one(process)
            await process.wait()
    # zenity and kdialog exit 1 on Cancel, zenity 5 on its timeout; osascript 1 on Cancel.
    if process.returncode in (1, 5):
        return None
    if process.returncode != 0:
        raise PromptUnavailable(f"{argv[0]} exited with status {process.returncode}")
    answer = "".join(stdout.decode(errors="replace").split())
    if not answer:
        return None
    code = find_code(answer)
    if code is None or code != answer:
        raise PromptUnavailable("the answer typed into the dialog is not a 6-digit code")
    return code
