"""Lock when the screen locks (opt-in: `lock_on_screen_lock = true` in config.toml).

Linux desktops announce a screen lock on D-Bus in one of two ways, and both are watched:
- the session bus: `org.freedesktop.ScreenSaver.ActiveChanged(true)` (KDE, XFCE, ...)
  or `org.gnome.ScreenSaver.ActiveChanged(true)` (GNOME);
- the system bus: logind's `org.freedesktop.login1.Session.Lock` (`loginctl
  lock-session`, and what most lockers listen to), for a session of our own user only.

A bus that isn't there is logged once and skipped: the daemon never fails over this.
"""

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # dbus-fast is a Linux-only dependency, imported when used
    from dbus_fast.aio import MessageBus

__all__ = ["watch_screen_lock"]

log = logging.getLogger(__name__)

_SCREENSAVERS = ("org.freedesktop.ScreenSaver", "org.gnome.ScreenSaver")
_LOGIND = "org.freedesktop.login1"
_SESSION_INTERFACE = "org.freedesktop.login1.Session"


async def watch_screen_lock(on_lock: Callable[[str], None]) -> None:
    """Call `on_lock(why)` whenever the screen locks, until cancelled."""
    if not sys.platform.startswith("linux"):
        log.warning("lock_on_screen_lock: only Linux (D-Bus) is supported; not watching")
        return
    buses = []
    for system in (False, True):
        bus = await _watch(system, on_lock)
        if bus is not None:
            buses.append(bus)
    if not buses:
        return
    try:
        await asyncio.Event().wait()  # the handlers do the work; wait to be cancelled
    finally:
        for bus in buses:
            with contextlib.suppress(Exception):
                bus.disconnect()


async def _watch(system: bool, on_lock: Callable[[str], None]) -> "MessageBus | None":
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    name = "system" if system else "session"
    try:
        bus = await MessageBus(bus_type=BusType.SYSTEM if system else BusType.SESSION).connect()
    except Exception as error:  # noqa: BLE001 - no bus here: a fact, not a failure
        log.info("screen lock: no D-Bus %s bus (%s); not watching it", name, type(error).__name__)
        return None
    rules = (
        [f"type='signal',interface='{_SESSION_INTERFACE}',member='Lock'"]
        if system
        else [f"type='signal',interface='{i}',member='ActiveChanged'" for i in _SCREENSAVERS]
    )
    for rule in rules:
        await bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="AddMatch",
                signature="s",
                body=[rule],
            )
        )

    pending: set[asyncio.Task[None]] = set()  # keep a reference until each is done

    def handler(message: Message) -> None:
        if message.message_type != MessageType.SIGNAL:
            return
        if not system and message.member == "ActiveChanged" and message.body == [True]:
            on_lock(f"{message.interface}: the screen saver started")
        elif system and message.member == "Lock" and message.path:
            task = asyncio.get_running_loop().create_task(_logind_lock(bus, message.path, on_lock))
            pending.add(task)
            task.add_done_callback(pending.discard)

    bus.add_message_handler(handler)
    log.info("screen lock: watching the %s bus", name)
    return bus


async def _logind_lock(bus: "MessageBus", path: str, on_lock: Callable[[str], None]) -> None:
    """A logind session locked: ours only if that session belongs to our user."""
    from dbus_fast import Message, MessageType

    reply = await bus.call(
        Message(
            destination=_LOGIND,
            path=path,
            interface="org.freedesktop.DBus.Properties",
            member="Get",
            signature="ss",
            body=[_SESSION_INTERFACE, "User"],
        )
    )
    if reply.message_type != MessageType.METHOD_RETURN:
        log.info("screen lock: can't tell whose session %s locked; ignoring it", path)
        return
    uid = reply.body[0].value[0]
    if uid == os.getuid():
        on_lock(f"logind: session {path} locked")
