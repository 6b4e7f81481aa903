"""Finding who holds a TCP port: a real listening socket, and a /proc where the holder
is another user's process (its fds hidden)."""

import os
import socket
import sys
from pathlib import Path

import pytest

from stsd.daemon.porthold import PortHolder, find_port_holder

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="/proc/net/tcp is Linux's"
)

_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"


def test_a_listening_socket_of_this_process_is_found() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        holder = find_port_holder(sock.getsockname()[1])
    assert holder is not None
    assert holder.pid == os.getpid()
    assert holder.uid == os.getuid()
    assert holder.describe().startswith(f"pid {os.getpid()} (")


def test_an_ipv6_listener_is_found_too() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    with socket.socket(socket.AF_INET6) as sock:
        try:
            sock.bind(("::1", 0))
        except OSError:
            pytest.skip("no ::1 here")
        sock.listen()
        holder = find_port_holder(sock.getsockname()[1])
    assert holder is not None and holder.pid == os.getpid()


def test_a_connected_socket_on_that_port_is_not_the_holder() -> None:
    """Only LISTEN entries count; a free port has no holder."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert find_port_holder(port) is None


def test_another_users_process_is_named_by_its_user(tmp_path: Path) -> None:
    """Its fds can't be read: the uid from /proc/net/tcp is all there is."""
    (tmp_path / "net").mkdir()
    # 127.0.0.1:9925 (0x26C5) listening (0A), uid 65534, inode 4242
    (tmp_path / "net" / "tcp").write_text(
        _HEADER + "   0: 0100007F:26C5 00000000:0000 0A 00000000:00000000 00:00000000 "
        "00000000 65534        0 4242 1 0000000000000000 100 0 0 10 0\n"
    )
    (tmp_path / "123").mkdir()  # a process whose fd dir is missing (unreadable)
    holder = find_port_holder(9925, proc=tmp_path)
    assert holder == PortHolder(uid=65534)
    assert "not yours" in holder.describe()
    assert find_port_holder(9926, proc=tmp_path) is None
