"""The sd_notify client against a real datagram socket, and what it takes from the
environment (so no child process can speak for the daemon)."""

import socket
from pathlib import Path

from lifecycle_support import NotifyListener

from stsd.daemon.sdnotify import Notifier


def test_messages_are_key_value_lines_in_one_datagram(short_tmp: Path) -> None:
    with NotifyListener.at_path(short_tmp / "n") as listener:
        notifier = Notifier(listener.address)
        notifier.ready("Serving 3 role profile(s)")
        notifier.reloading()
        notifier.stopping("Stopping")
        assert listener.next() == {"READY": "1", "STATUS": "Serving 3 role profile(s)"}
        reloading = listener.next()
        assert reloading["RELOADING"] == "1" and reloading["MONOTONIC_USEC"].isdigit()
        assert listener.next() == {"STOPPING": "1", "STATUS": "Stopping"}


def test_the_variable_is_taken_out_of_the_environment(short_tmp: Path) -> None:
    with NotifyListener.abstract(f"stsd-n-{short_tmp.name}") as listener:
        environ = {"NOTIFY_SOCKET": listener.address, "HOME": "/h"}
        notifier = Notifier.from_environ(environ)
        assert environ == {"HOME": "/h"}
        assert notifier.send(STATUS="x")
        assert listener.next() == {"STATUS": "x"}


def test_without_a_manager_nothing_is_sent() -> None:
    assert not Notifier.from_environ({}).enabled
    assert not Notifier(None).send(READY="1")
    assert not Notifier("vsock:2:1234").enabled  # not a path nor @name: ignored


def test_a_manager_that_went_away_is_not_fatal(short_tmp: Path) -> None:
    path = short_tmp / "gone"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
    notifier = Notifier(str(path))  # the file is there, nobody listens
    assert notifier.send(READY="1") is False
