"""`mfa_process`: a command that prints a code (aws-vault's profile key).

For example `ykman oath accounts code --single arn:aws:iam::111111111111:mfa/alice`.
It runs through `sh -c` as aws-vault runs it, so pipes work. stdout must hold exactly
one 6-digit code; stderr goes to the log (a YubiKey's "touch your key"), with any
6-digit run masked. A command that fails, prints no code or outlives the timeout
raises `PromptUnavailable`, and the desk falls through to the next driver.
"""

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import ClassVar

from stsd.daemon.errors import PromptUnavailable
from stsd.daemon.prompts._spawn import kill_group, start
from stsd.daemon.prompts.base import DriverContext, PromptRequest, find_code

__all__ = ["MfaProcessPrompt"]

log = logging.getLogger(__name__)

# Long enough to find and touch a hardware key; short enough that a hung command
# doesn't keep the user from the next driver for long.
DEFAULT_TIMEOUT_SECONDS = 60.0
_DIGITS = re.compile(r"[0-9]{6,}")
_STDERR_LINES = 20  # a chatty command shouldn't flood the log


class MfaProcessPrompt:
    """Runs the source profile's `mfa_process` and reads the code it prints."""

    name: ClassVar[str] = "mfa_process"

    def __init__(
        self,
        source: str,
        command: str | None,
        env: Mapping[str, str],
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._source = source
        self._command = command
        self._env = env
        self._timeout = timeout

    @classmethod
    def create(cls, context: DriverContext) -> "MfaProcessPrompt":
        return cls(context.source.name, context.source.mfa_process, context.env)

    def unavailable_reason(self) -> str | None:
        if not self._command:
            return f"no mfa_process in ~/.aws/config for {self._source} or its role profiles"
        return None

    async def prompt(self, request: PromptRequest) -> str | None:
        if not self._command:
            raise PromptUnavailable(self.unavailable_reason() or "no mfa_process")
        command = self._command
        # The user's own configured command, run as aws-vault runs it.
        process = await start(
            lambda: asyncio.create_subprocess_shell(  # noqa: S604
                command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(self._env),
                start_new_session=True,  # its own process group: a timeout kills the pipeline
            ),
            kill_group,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), self._timeout)
        except TimeoutError:
            raise PromptUnavailable(
                f"mfa_process for {self._source} printed no code within "
                f"{self._timeout:g} s; it was stopped"
            ) from None
        finally:
            if process.returncode is None:
                kill_group(process)
                await process.wait()
        self._log_stderr(stderr)
        if process.returncode != 0:
            raise PromptUnavailable(
                f"mfa_process for {self._source} exited with status {process.returncode}"
            )
        code = find_code(stdout.decode(errors="replace"))
        if code is None:
            raise PromptUnavailable(
                f"mfa_process for {self._source} must print exactly one 6-digit code "
                "(e.g. `ykman oath accounts code --single ACCOUNT`)"
            )
        return code

    def _log_stderr(self, stderr: bytes) -> None:
        lines = stderr.decode(errors="replace").splitlines()
        for line in lines[:_STDERR_LINES]:
            if line.strip():
                # A command may echo its code on stderr: codes never reach the log.
                log.info("mfa_process for %s: %s", self._source, _DIGITS.sub("******", line))
        if len(lines) > _STDERR_LINES:
            log.info(
                "mfa_process for %s: (%d more lines)", self._source, len(lines) - _STDERR_LINES
            )
