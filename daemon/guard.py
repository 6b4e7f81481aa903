"""Keep the endpoint answering while clients misbehave: a cap on connections and a
deadline for each request to arrive.

Any local user can open TCP connections to 127.0.0.1. A connection must deliver a
whole request within `timeout` of opening, and the next one within `timeout` of the
last response; otherwise it is closed, whether it sent nothing or dribbles a byte at a
time. At `max_connections`, a new connection pushes out the one that has been idle (or
dribbling) longest, so held connections never lock SDKs out. Never pushed out: a
connection whose request is being handled (at most 0.8 s), and one younger than a second
(a burst of SDK processes starting at once opens many connections whose requests are a
moment away; a new connection is turned away instead, and SDKs retry). The process's
open-file limit is raised to fit the cap where the hard limit allows.

The guard sits between asyncio and aiohttp's protocol, so it sees connections before
aiohttp does; its middleware tells it when a request starts and ends.
"""

import asyncio
import logging
import resource
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from stsd.daemon.peer import Address, address_of

__all__ = ["ConnectionGuard", "GuardedSite"]

log = logging.getLogger(__name__)

_WARN_EVERY_SECONDS = 60.0
_GRACE_SECONDS = 1.0  # a client sends its request within milliseconds of connecting
_SPARE_FILES = 128  # the daemon's own: STS connections, the store, logs


@dataclass(slots=True, eq=False)
class _Connection:
    transport: asyncio.Transport
    idle_since: float  # monotonic: opened, or its last response sent
    addresses: tuple[Address | None, Address | None]  # (peer, local), for the audit log
    busy: int = 0
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


OpenHook = Callable[[Address | None, Address | None], None]


class ConnectionGuard:
    """`on_open(peer, local)` hears of every connection let in (the audit log's cue)."""

    def __init__(
        self, max_connections: int, timeout: float, on_open: OpenHook | None = None
    ) -> None:
        self._max = max_connections
        self._timeout = timeout
        self._grace = min(_GRACE_SECONDS, timeout / 2)
        self._on_open = on_open
        # Least recently active first: the order eviction follows.
        self._open: OrderedDict[asyncio.BaseTransport, _Connection] = OrderedDict()
        self._last_warning = 0.0

    @property
    def open_connections(self) -> int:
        return len(self._open)

    @property
    def max_connections(self) -> int:
        return self._max

    def protocol_factory(
        self, factory: Callable[[], asyncio.BaseProtocol]
    ) -> Callable[[], asyncio.Protocol]:
        """Wrap aiohttp's protocol factory so every connection passes through the guard."""

        def make() -> asyncio.Protocol:
            inner = factory()
            assert isinstance(inner, asyncio.Protocol)  # noqa: S101 - aiohttp's is one
            return _GuardedProtocol(inner, self)

        return make

    @property
    def middleware(self) -> Middleware:
        @web.middleware
        async def track(request: web.Request, handler: Handler) -> web.StreamResponse:
            connection = self.request_started(request.transport)
            try:
                return await handler(request)
            finally:
                self.request_finished(connection)

        return track

    def request_started(self, transport: asyncio.BaseTransport | None) -> _Connection | None:
        """A request on `transport` is being answered: keep its connection. What this
        returns goes back to `request_finished` once the response is written."""
        connection = self._open.get(transport) if transport is not None else None
        if connection is not None:
            connection.busy += 1
        return connection

    def request_finished(self, connection: _Connection | None) -> None:
        if connection is None:
            return
        connection.busy -= 1
        if connection.busy == 0 and connection.transport in self._open:
            connection.idle_since = time.monotonic()
            self._open.move_to_end(connection.transport)

    # -- connection events ------------------------------------------------------------

    def _opened(self, transport: asyncio.Transport) -> None:
        if len(self._open) >= self._max and not self._evict_one():
            self._warn("%d connections open, all busy or new: turning one away", self._max)
            transport.abort()
            return
        addresses = (
            address_of(transport.get_extra_info("peername")),
            address_of(transport.get_extra_info("sockname")),
        )
        connection = _Connection(transport, time.monotonic(), addresses)
        self._open[transport] = connection
        self._arm(connection, self._timeout)
        if self._on_open is not None:
            self._on_open(*addresses)

    def _closed(self, transport: asyncio.BaseTransport) -> None:
        connection = self._open.pop(transport, None)
        if connection is not None and connection.timer is not None:
            connection.timer.cancel()

    # A request moves `idle_since` only; the connection's one timer, when it fires, looks
    # at it and goes back to sleep until the real deadline. Cancelling and re-arming a
    # timer for every request was a twentieth of the request path (docs/benchmarks.md).

    def _arm(self, connection: _Connection, delay: float) -> None:
        loop = asyncio.get_running_loop()
        connection.timer = loop.call_later(delay, self._expire, connection)

    def _expire(self, connection: _Connection) -> None:
        connection.timer = None
        if connection.transport not in self._open:
            return
        if connection.busy:  # being answered (0.8 s at most): look again later
            self._arm(connection, self._timeout)
            return
        left = connection.idle_since + self._timeout - time.monotonic()
        if left > 0:  # it was used since the timer was set
            self._arm(connection, left)
            return
        log.debug("closing a connection that sent no request in %.0f s", self._timeout)
        self._drop(connection)

    def _evict_one(self) -> bool:
        # Oldest activity first: the first idle connection is the longest idle one.
        idle = next((c for c in self._open.values() if c.busy == 0), None)
        if idle is None or time.monotonic() - idle.idle_since < self._grace:
            return False
        self._warn("%d connections open: closing the longest idle", self._max)
        self._drop(idle)
        return True

    def _drop(self, connection: _Connection) -> None:
        self._closed(connection.transport)
        connection.transport.abort()

    def _warn(self, message: str, *args: object) -> None:
        # A flood of connections must not become a flood of log lines.
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY_SECONDS:
            self._last_warning = now
            log.warning(message, *args)


class _GuardedProtocol(asyncio.Protocol):
    """Passes everything to aiohttp's protocol; tells the guard about opens and closes."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport; uvloop's has asyncio.Transport's methods without subclassing it.
        self._transport = transport
        self._guard._opened(cast(asyncio.Transport, transport))
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._guard._closed(self._transport)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class GuardedSite(web.BaseSite):
    """A TCP site (an address, or a listening socket systemd passed) whose connections
    pass through a `ConnectionGuard`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        guard: ConnectionGuard,
        *,
        host: str | None = None,
        port: int | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        super().__init__(runner)
        if (sock is None) == (host is None or port is None):
            raise ValueError("a GuardedSite listens on host and port, or on sock")
        self._guard = guard
        self._host = host
        self._port = port
        self._sock = sock

    @property
    def name(self) -> str:
        if self._sock is not None:
            host, port = self._sock.getsockname()[:2]
        else:
            host, port = self._host, self._port
        literal = f"[{host}]" if ":" in str(host) else host
        return f"http://{literal}:{port}"

    async def start(self) -> None:
        await super().start()
        _fit_file_limit(self._guard.max_connections + _SPARE_FILES)
        server = self._runner.server
        assert server is not None  # noqa: S101 - the runner is set up
        factory = self._guard.protocol_factory(server)
        loop = asyncio.get_running_loop()
        if self._sock is not None:
            self._server = await loop.create_server(factory, sock=self._sock)
        else:
            assert self._port is not None  # noqa: S101 - checked in __init__
            self._server = await loop.create_server(factory, self._host, self._port)


def _fit_file_limit(wanted: int) -> None:
    """Raise the soft open-file limit to `wanted` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning(
            "the open-file limit (%d) is below max_connections + %d: lower [endpoint] "
            "max_connections or raise the limit",
            hard,
            _SPARE_FILES,
        )
