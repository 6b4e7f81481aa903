"""The terminal MFA prompt: hidden input on /dev/tty, never on stdout.

stdout of `stsd env` is eval'd by shells, so the prompt, the typing and the outcome
all stay on the terminal itself (and stderr). `offer_login` is what a command that
finds a session missing calls (`stsd env --login`).
"""

import contextlib
import io
import os
import re
import sys
import termios
from typing import Any

from stsd.client.control import Control, ControlError, DaemonUnreachable
from stsd.client.output import until, warn

__all__ = ["CODE", "ask_code", "offer_login", "source_of"]

CODE = re.compile(r"^[0-9]{6}$")


def ask_code(prompt: str, tty_path: str = "/dev/tty") -> str | None:
    """Ask on the terminal with echo off; the answer without spaces, or None when this
    process has no terminal."""
    try:
        fd = os.open(tty_path, os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    with io.FileIO(fd, "r+") as raw, io.TextIOWrapper(raw, encoding="utf-8") as tty:
        try:
            old = termios.tcgetattr(fd)
        except termios.error:
            return None  # not a terminal after all
        quiet = list(old)
        quiet[3] &= ~termios.ECHO  # lflag: the code never shows on screen
        try:
            termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
            tty.write(prompt)
            tty.flush()
            line = tty.readline()
        finally:
            termios.tcsetattr(fd, termios.TCSAFLUSH, old)
            with contextlib.suppress(OSError):
                tty.write("\n")
                tty.flush()
    return "".join(line.split())


def source_of(status: dict[str, Any], profile: str) -> dict[str, Any] | None:
    """The source profile entry of `status` behind role profile `profile`."""
    role = next((r for r in status.get("roles", []) if r.get("profile") == profile), None)
    if role is None:
        return None
    return next((s for s in status.get("sources", []) if s.get("name") == role.get("source")), None)


def offer_login(control: Control, profile: str) -> bool:
    """When `profile`'s source has no MFA session, ask for a code on the terminal and
    give it to the daemon. True when a session exists afterwards."""
    try:
        source = source_of(control.get("/v1/status"), profile)
    except (DaemonUnreachable, ControlError) as error:
        warn(str(error))
        return False
    if source is None:
        return False
    if source.get("session_expires"):
        return True
    name = source["name"]
    for _ in range(3):
        code = ask_code(f"stsd: MFA code for {name} ({source['mfa_serial']}): ")
        if code is None:
            warn(f"no terminal to ask for an MFA code on: run `stsd login {name}`")
            return False
        if not CODE.match(code):
            print("stsd: an MFA code is 6 digits", file=sys.stderr)
            continue
        try:
            reply = control.post("/v1/login", {"source": name, "code": code})
        except DaemonUnreachable as error:
            warn(str(error))
            return False
        except ControlError as error:
            print(f"stsd: {error.message}", file=sys.stderr)
            if error.exit_code != 4:  # only a rejected code is worth another try
                return False
            continue
        print(
            f"stsd: logged in as {reply['user_arn']}, session until "
            f"{until(reply['session_expires'])}",
            file=sys.stderr,
        )
        return True
    return False
