"""A freedesktop notification over the D-Bus session bus, and the wait for its action.

Speaks the Desktop Notifications Specification (org.freedesktop.Notifications) with
dbus-fast, imported only when a notification is sent. The connection lives as long
as the notification: one prompt, one short-lived connection.
"""

import asyncio
import contextlib
import os
import stat
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stsd.daemon.errors import PromptUnavailable

__all__ = ["Notification", "dbus_available", "session_bus_address", "show_and_wait"]

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
_BUS = "org.freedesktop.DBus"
_CALL_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Notification:
    summary: str
    body: str
    actions: tuple[tuple[str, str], ...]  # (key, label); "default" is a click on the body
    urgency: int  # 0 low, 1 normal, 2 critical (stays until dismissed on most desktops)
    link: str | None = None  # shown in the text where the service has no actions


def session_bus_address(env: Mapping[str, str]) -> str | None:
    """The session bus of this login, as libdbus finds it; None when there is none."""
    address = env.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        socket = Path(runtime) / "bus"
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(socket.stat().st_mode):
                return f"unix:path={socket}"
    return None


def dbus_available() -> bool:
    try:
        import dbus_fast  # noqa: F401
    except ImportError:
        return False
    return True


async def show_and_wait(address: str, notification: Notification) -> str | None:
    """Show `notification`; the key of the action the user invoked, or None if closed.

    Cancelling the wait closes the notification.

    Raises:
        PromptUnavailable: no bus, no notification service, or it refused.
    """
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    try:
        bus = await asyncio.wait_for(MessageBus(bus_address=address).connect(), 5)
    except (OSError, TimeoutError, ValueError) as error:
        raise PromptUnavailable(f"can't reach the D-Bus session bus: {error}") from None
    signals: asyncio.Queue[tuple[str, list[Any]]] = asyncio.Queue()

    def on_message(message: Message) -> None:
        if (
            message.message_type == MessageType.SIGNAL
            and message.interface == NAME
            and message.member in ("ActionInvoked", "NotificationClosed")
        ):
            signals.put_nowait((message.member, list(message.body)))

    async def call(member: str, signature: str, body: list[Any], to: str = NAME) -> list[Any]:
        path = "/org/freedesktop/DBus" if to == _BUS else PATH
        message = Message(
            destination=to,
            path=path,
            interface=to,
            member=member,
            signature=signature,
            body=body,
        )
        reply = await asyncio.wait_for(bus.call(message), _CALL_TIMEOUT_SECONDS)
        if reply.message_type == MessageType.ERROR:
            raise PromptUnavailable(
                f"the notification service refused {member}: {reply.error_name}"
            )
        return list(reply.body)

    bus.add_message_handler(on_message)
    try:
        # Listen before sending: a fast click must not slip between Notify and AddMatch.
        await call("AddMatch", "s", [f"type='signal',interface='{NAME}',path='{PATH}'"], _BUS)
        (capabilities,) = await call("GetCapabilities", "", [])
        notification_id = await _notify(call, notification, "actions" in capabilities)
        try:
            while True:
                member, args = await signals.get()
                if args and args[0] == notification_id:
                    return str(args[1]) if member == "ActionInvoked" else None
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(call("CloseNotification", "u", [notification_id]), 1)
            raise
    except TimeoutError:
        raise PromptUnavailable("the notification service did not answer") from None
    finally:
        bus.disconnect()


_Call = Callable[[str, str, list[Any]], Awaitable[list[Any]]]


async def _notify(call: _Call, notification: Notification, with_actions: bool) -> int:
    from dbus_fast import Variant

    actions: list[str] = []
    body = notification.body
    if with_actions:
        for key, label in notification.actions:
            actions += [key, label]
    elif notification.link:
        body = f"{body}\nOpen {notification.link}"
    hints = {
        "urgency": Variant("y", notification.urgency),
        "desktop-entry": Variant("s", "stsd"),
    }
    reply = await call(
        "Notify",
        "susssasa{sv}i",
        # app name, replaces id, icon, summary, body, actions, hints, timeout (0: never)
        ["stsd", 0, "dialog-password", notification.summary, body, actions, hints, 0],
    )
    return int(reply[0])
