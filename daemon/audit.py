"""The audit log: one JSON line per credential request, in the state dir and on stderr.

    {"time": "2025-01-31T09:12:03.456Z", "profile": "prod-ro", "token": "exec: terraform",
     "status": 200, "code": null, "peer": {"uid": 1000, "pid": 4242, "exe": "/usr/bin/terraform"}}

`token` is the token's label (`default`, `exec: CMD`), `missing` or `invalid`; never the
token. `code` is the error code of a refusal. `peer` (Linux) is resolved from /proc on
the writer's thread: the request path only adds the event to a batch (a few
microseconds), and a batch goes to the writer at most 50 ms later. A client's socket
vanishes from /proc once it closes it, often right after reading the reply, so
resolution starts when the connection opens (`connection_opened`, queued at once, so
ahead of the request's event) and the event uses that answer. Under a flood the writer
stops resolving peers rather than fall behind without bound.

The file (`audit.log`, 0600) rotates at `max_bytes`, keeping `backups` old files; lines
also go to the `stsd.audit` logger (stderr, hence journald under systemd), a batch as
one record that stsd's handler writes as one log line per audit line. A file that
can't be written (read-only state dir, full disk) never stops the daemon: the lines go
to stderr only, with a warning, and the file is tried again a minute later.
"""

import asyncio
import contextlib
import io
import json
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, Protocol

from stsd.daemon.peer import Address, Peer, resolve_peer, socket_owner

__all__ = ["AuditEvent", "AuditLog", "AuditRow", "PeerResolver"]

log = logging.getLogger("stsd.audit")

# Beyond this backlog, peers are no longer resolved (the /proc scan is the slow part).
_RESOLVE_BACKLOG = 256
# Beyond this, events are counted and dropped: memory stays bounded under any flood.
_MAX_BACKLOG = 100_000
_CLOSE_RESOLVE_SECONDS = 1.0  # shutdown must not wait on a long /proc backlog
_PROFILE_CHARS = 128  # the profile comes from the URL: anyone's bytes, kept short
_PEER_CACHE = 1024  # connections whose peers are remembered (keep-alive reuses them)
# Events reach the writer's thread in batches: at most this late, at most this many.
_BATCH_SECONDS = 0.05
_BATCH_EVENTS = 512
_RETRY_FILE_SECONDS = 60.0
# Distinct (profile, token, status, code) fragments kept; the profile is anyone's bytes.
_FRAGMENTS = 256


class PeerResolver(Protocol):
    def __call__(
        self, peer: Address | None, local: Address | None, owner: tuple[int, int] | None = None
    ) -> Peer: ...


@dataclass(frozen=True, slots=True)
class _Opened:
    peer: Address | None
    local: Address | None
    owner: tuple[int, int] | None  # (uid, inode), looked up as the connection opened


class AuditEvent(NamedTuple):
    """One credential request, its fields named. `AuditLog.record` takes any tuple of
    this shape (`AuditRow`): the request path passes a plain one, which costs a tenth of
    making this (a frozen dataclass cost a microsecond of the request)."""

    time: float  # time.time() at the request
    profile: str
    token: str  # a label, "missing" or "invalid": never the token itself
    status: int
    code: str | None
    peer: Address | None
    local: Address | None


# AuditEvent's fields, in order: (time, profile, token, status, code, peer, local).
AuditRow = tuple[float, str, str, int, str | None, Address | None, Address | None]


class AuditLog:
    """Queues events on the request path; a thread resolves peers and writes lines."""

    def __init__(
        self,
        path: Path | None,
        max_bytes: int = 5 * 1024 * 1024,
        backups: int = 3,
        resolver: PeerResolver = resolve_peer,
    ) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self._resolver = resolver
        self._queue: queue.SimpleQueue[list[AuditRow] | _Opened | None] = queue.SimpleQueue()
        self._batch: list[AuditRow] = []  # the event loop's thread only
        # Each counter has one writer (the loop's thread, the writer's): no lost updates.
        self._handed = 0
        self._written = 0
        # Per connection: its peer, and that peer as the line's JSON.
        self._peers: OrderedDict[tuple[Address | None, Address | None], tuple[Peer, str]] = (
            OrderedDict()
        )
        self._fragments: dict[tuple[str, str, int, str | None], str] = {}
        self._clock: dict[int, str] = {}  # the last second's date and time, formatted
        self._dropped = 0
        self._file: io.TextIOWrapper | None = None
        self._thread: threading.Thread | None = None
        self._resolve_until = float("inf")  # monotonic; set by close()
        self._retry_file_at = 0.0  # monotonic; when a file that failed is tried again

    @property
    def backlog(self) -> int:
        """Events recorded and not yet written (approximate)."""
        return self._handed - self._written + len(self._batch)

    def record(self, event: AuditRow) -> None:
        """Keep one event for the writer (the request path: no I/O, no thread wake-up).

        Events go to the writer's thread in batches, at most `_BATCH_SECONDS` late: a
        hand-off wakes that thread, which then competes with the event loop for the
        GIL, and one per request cost more than the request itself (docs/benchmarks.md).
        """
        if self.backlog >= _MAX_BACKLOG:
            self._dropped += 1
            return
        self._batch.append(event)
        if len(self._batch) >= _BATCH_EVENTS:
            self._hand_over()
        elif len(self._batch) == 1:
            try:
                asyncio.get_running_loop().call_later(_BATCH_SECONDS, self._hand_over)
            except RuntimeError:  # not on an event loop (a direct caller): no batching
                self._hand_over()

    def _hand_over(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            self._handed += len(batch)
            self._queue.put(batch)

    def connection_opened(self, peer: Address | None, local: Address | None) -> None:
        """Look up a new connection's owner now, while its socket surely exists.

        The uid comes from one netlink query (tens of microseconds, on the event loop,
        once per connection); the process is looked for on the writer's thread.
        """
        owner = None
        if peer is not None and local is not None:
            with contextlib.suppress(ValueError, OSError):
                owner = socket_owner(peer, local, use_proc=False)
        self._queue.put(_Opened(peer, local, owner))

    def start(self) -> None:
        self._reopen()
        self._thread = threading.Thread(target=self._run, name="stsd-audit", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued (resolving peers for a second at most), then stop."""
        self._resolve_until = time.monotonic() + _CLOSE_RESOLVE_SECONDS
        self._hand_over()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None
        self._drop_file()

    def _reopen(self) -> None:
        if self._path is None or self._file is not None:
            return
        if time.monotonic() < self._retry_file_at:
            return
        try:
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as error:
            self._failed(error)
            return
        self._file = open(fd, "a", encoding="utf-8", buffering=64 * 1024)  # noqa: SIM115

    def _failed(self, error: OSError) -> None:
        log.warning(
            "audit: can't write %s (%s): audit lines go to stderr only for now",
            self._path,
            error.strerror or error,
        )
        self._drop_file()
        self._retry_file_at = time.monotonic() + _RETRY_FILE_SECONDS

    def _drop_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            if isinstance(item, _Opened):
                self._remember(item.peer, item.local, item.owner)
            else:
                self._write(item)
                self._written += len(item)
            if self._queue.empty():
                self._flush()
        self._flush()

    def _may_resolve(self) -> bool:
        behind = self._handed - self._written  # events the writer has and hasn't written
        return behind < _RESOLVE_BACKLOG and time.monotonic() < self._resolve_until

    def _remember(
        self, peer: Address | None, local: Address | None, owner: tuple[int, int] | None = None
    ) -> tuple[Peer, str]:
        if self._may_resolve():
            found = self._resolver(peer, local, owner)
        else:  # behind: keep what the open told us, skip the /proc scan
            found = Peer(uid=owner[0]) if owner else Peer()
        entry = found, json.dumps(found.to_json(), ensure_ascii=True)
        self._peers[(peer, local)] = entry
        self._peers.move_to_end((peer, local))
        while len(self._peers) > _PEER_CACHE:
            self._peers.popitem(last=False)
        return entry

    def _write(self, events: list[AuditRow]) -> None:
        """One batch: a line per event, to the file and (as one record) to the log."""
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            log.warning("audit: %d events dropped (backlog over %d)", dropped, _MAX_BACKLOG)
        lines = self._lines(events)
        text = "\n".join(lines)
        if log.isEnabledFor(logging.INFO):
            # stsd's stderr handler writes each of `lines` as a log line of its own
            # (logsetup): one record per batch instead of one per request.
            log.info("%s", text, extra={"lines": lines})
        self._reopen()
        if self._file is not None:
            try:
                self._file.write(text + "\n")
            except OSError as error:
                self._failed(error)

    def _lines(self, events: list[AuditRow]) -> list[str]:
        """The events as JSON lines. Requests repeat: only the time is formatted per line;
        the date and time to the second once per second, the peer's JSON once per
        connection, the rest once per distinct (profile, token, status, code). One loop
        with everything in local names: this runs for every request."""
        fragments, peers, clock = self._fragments, self._peers, self._clock
        lines = []
        for moment, profile, token, status, code, peer, local in events:
            middle = fragments.get((profile, token, status, code))
            if middle is None:
                middle = self._fragment(profile, token, status, code)
            known = peers.get((peer, local))
            if known is None or known[0].uid is None:
                # Not seen at open (a connection from before a restart?): try now.
                known = self._remember(peer, local)
            second, millis = divmod(int(moment * 1000), 1000)
            prefix = clock.get(second) or self._second(second)
            lines.append(f'{{"time": "{prefix}{millis:03d}Z", {middle}, "peer": {known[1]}}}')
        return lines

    def _fragment(self, profile: str, token: str, status: int, code: str | None) -> str:
        if len(self._fragments) >= _FRAGMENTS:
            self._fragments.clear()
        whole = {
            "profile": profile[:_PROFILE_CHARS],
            "token": token,
            "status": status,
            "code": code,
        }
        middle = json.dumps(whole, ensure_ascii=True)[1:-1]  # nothing can break the line
        self._fragments[(profile, token, status, code)] = middle
        return middle

    def _second(self, second: int) -> str:
        """`2025-01-31T09:12:03.` for a whole second of Unix time (the last one kept)."""
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        self._clock.clear()
        self._clock[second] = prefix
        return prefix

    def _flush(self) -> None:
        if self._file is None:
            return
        try:
            self._file.flush()
            if self._path is not None and os.fstat(self._file.fileno()).st_size >= self._max_bytes:
                self._rotate()
        except OSError as error:
            self._failed(error)

    def _rotate(self) -> None:
        assert self._path is not None  # noqa: S101 - only with a file
        self._drop_file()
        for index in range(self._backups, 0, -1):
            source = (
                self._path if index == 1 else self._path.with_name(f"{self._path.name}.{index - 1}")
            )
            with contextlib.suppress(FileNotFoundError):
                os.replace(source, self._path.with_name(f"{self._path.name}.{index}"))
        self._reopen()
