"""The terminal: the last resort, always there.

The daemon has no terminal of its own (systemd and launchd run it), so this driver
asks through the CLI: it says in the log what is wanted and returns None; the code
comes from `stsd login` (hidden input on /dev/tty), or from a CLI command that finds
the session missing and offers the same prompt (`stsd env --login`). `stsd status`
shows the pending prompt meanwhile.
"""

import logging
from typing import ClassVar

from stsd.daemon.prompts.base import DriverContext, PromptRequest, describe

__all__ = ["TerminalPrompt"]

log = logging.getLogger(__name__)


class TerminalPrompt:
    """Points the user to `stsd login`; the code arrives through the control API."""

    name: ClassVar[str] = "terminal"

    @classmethod
    def create(cls, context: DriverContext) -> "TerminalPrompt":
        return cls()

    def unavailable_reason(self) -> str | None:
        return None

    async def prompt(self, request: PromptRequest) -> str | None:
        _, text = describe(request)
        log.warning("%s Run `stsd login %s` in a terminal.", text, request.source)
        return None
