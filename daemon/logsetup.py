"""Log lines fit for where they go: a terminal or a file, or the journal.

On a terminal (and in launchd's log file) each line carries its time. Under systemd,
stderr is a journal stream: journald stamps every line itself and reads a `<N>` syslog
priority prefix, so the line carries that instead (`journalctl -p warning` then works).
Which one is decided by JOURNAL_STREAM naming the very file stderr is (systemd's rule:
a variable inherited by a child whose stderr goes elsewhere must not count).
"""

import logging
import os
from collections.abc import Mapping
from typing import TextIO

__all__ = ["LEVELS", "configure_logging", "writes_to_journal"]

LEVELS = ("debug", "info", "warning", "error")

# sd-daemon(3) priorities.
_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        return f"<{priority}>{super().format(record)}"


class _LinesHandler(logging.StreamHandler[TextIO]):
    """A record may carry many lines (`extra={"lines": [...]}`: a batch of audit lines,
    logged as one record because a record per request cost more than the request).
    Each goes out as a log line of its own, formatted like any other."""

    def format(self, record: logging.LogRecord) -> str:
        lines = getattr(record, "lines", None)
        if not isinstance(lines, list):
            return super().format(record)
        template = logging.makeLogRecord({**record.__dict__, "msg": "\0", "args": None})
        before, _, after = super().format(template).partition("\0")
        return before + f"{after}\n{before}".join(lines) + after


def writes_to_journal(stream: TextIO, env: Mapping[str, str]) -> bool:
    """True when `stream` is the journal stream systemd connected (JOURNAL_STREAM=dev:ino)."""
    device, _, inode = env.get("JOURNAL_STREAM", "").partition(":")
    if not device.isdigit() or not inode.isdigit():
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


def configure_logging(level: str, stream: TextIO, env: Mapping[str, str]) -> None:
    """Route the `stsd` loggers (and aiohttp's) to `stream` at `level`."""
    formatter: logging.Formatter
    if writes_to_journal(stream, env):
        formatter = _JournalFormatter("%(name)s: %(message)s")
    else:
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
        )
    handler = _LinesHandler(stream)
    handler.setFormatter(formatter)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # botocore and urllib3 log request parameters and bodies at DEBUG: MFA codes, keys.
    for chatty in ("botocore", "boto3", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # aiohttp's access log goes through our AccessLogger, which never prints headers.
    logging.getLogger("aiohttp.access").setLevel(
        logging.INFO if level.upper() == "DEBUG" else logging.WARNING
    )
