"""A record carrying many lines (the audit log's batch) reaches stderr as many log lines."""

import io
import logging
import os
from collections.abc import Iterator

import pytest

from stsd.daemon.logsetup import configure_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def log_batch(lines: list[str]) -> None:
    logging.getLogger("stsd.audit").info("%s", "\n".join(lines), extra={"lines": lines})


def test_each_line_of_a_batch_is_a_log_line_of_its_own() -> None:
    stream = io.StringIO()
    configure_logging("info", stream, {})
    log_batch(['{"x": 1}', '{"x": 2}'])
    logging.getLogger("stsd.audit").info("one line")
    lines = stream.getvalue().splitlines()
    assert [line.partition(" INFO stsd.audit: ")[2] for line in lines] == [
        '{"x": 1}',
        '{"x": 2}',
        "one line",
    ]
    assert all(line[:4].isdigit() for line in lines)  # each stamped with its time


def test_in_the_journal_every_line_carries_its_priority() -> None:
    read, write = os.pipe()
    with open(write, "w") as stream, open(read) as reader:
        info = os.fstat(stream.fileno())
        configure_logging("info", stream, {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"})
        log_batch(["a", "b"])
        stream.close()
        text = reader.read()
    assert text.splitlines() == ["<6>stsd.audit: a", "<6>stsd.audit: b"]


def test_below_info_a_batch_is_not_written() -> None:
    stream = io.StringIO()
    configure_logging("warning", stream, {})
    log_batch(["a"])
    assert stream.getvalue() == ""
