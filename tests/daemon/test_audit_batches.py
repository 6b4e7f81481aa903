"""Audit events recorded on the event loop reach the writer's thread in batches.

One hand-off per request woke the writer's thread for every request, and the two
threads then took turns on the GIL: that cost more than the request (docs/benchmarks.md).
"""

import asyncio
import json
import time
from pathlib import Path

from stsd.daemon.audit import _BATCH_EVENTS, AuditEvent, AuditLog
from stsd.daemon.peer import Address, Peer


def event(profile: str) -> AuditEvent:
    return AuditEvent(
        time=1_700_000_000.25,
        profile=profile,
        token="default",
        status=200,
        code=None,
        peer=("127.0.0.1", 40000),
        local=("127.0.0.1", 9925),
    )


def no_peer(
    peer: Address | None, local: Address | None, owner: tuple[int, int] | None = None
) -> Peer:
    return Peer()


def profiles_in(path: Path) -> list[str]:
    return [json.loads(line)["profile"] for line in path.read_text().splitlines()]


async def test_events_wait_on_the_loop_and_close_writes_them_in_order(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    audit = AuditLog(path, resolver=no_peer)
    audit.start()
    names = [f"p{i}" for i in range(10)]
    for name in names:
        audit.record(event(name))
    # No await since: the batch is still on the loop, and the writer was never woken.
    assert audit.backlog == 10
    assert path.read_text() == ""
    audit.close()
    assert profiles_in(path) == names


async def test_a_full_batch_goes_at_once_and_the_rest_after_a_moment(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    audit = AuditLog(path, resolver=no_peer)
    audit.start()
    names = [f"p{i}" for i in range(_BATCH_EVENTS + 3)]
    for name in names:
        audit.record(event(name))
    assert audit.backlog <= len(names)
    deadline = time.monotonic() + 10
    while len(profiles_in(path)) < _BATCH_EVENTS and time.monotonic() < deadline:
        time.sleep(0.01)  # the writer's thread works while the loop is blocked here
    assert profiles_in(path) == names[:_BATCH_EVENTS]  # the full batch, without the loop
    while audit.backlog and time.monotonic() < deadline:
        await asyncio.sleep(0.01)  # the loop runs: the timer hands over the last three
    assert audit.backlog == 0
    audit.close()
    assert profiles_in(path) == names
