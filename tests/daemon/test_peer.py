"""Peer uid lookup from /proc/net/tcp lines (the IMDS own-uid rule)."""

from stsd.daemon.peer import find_uid

_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:26C5 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:26C5 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:D431 0100007F:26C5 01 00000000:00000000 00:00000000 00000000  1000        0 3 1
"""
_TCP6 = """\
  sl  local_address                         remote_address                        st uid
   0: 0000000000000000FFFF00000100007F:D431 0000000000000000FFFF00000100007F:26C5 01 0 0 0 1001
"""


def test_the_clients_socket_names_its_owner() -> None:
    """Port 9925 (0x26C5) served to a client on 54321 (0xD431) owned by uid 1000."""
    assert find_uid(_TCP.splitlines(), ("127.0.0.1", 54321), ("127.0.0.1", 9925)) == 1000


def test_the_servers_own_side_is_not_taken_for_the_client() -> None:
    assert find_uid(_TCP.splitlines(), ("127.0.0.1", 9925), ("127.0.0.1", 1)) is None


def test_ipv4_mapped_entries_in_tcp6_match() -> None:
    lines = _TCP6.splitlines()
    assert find_uid(lines, ("127.0.0.1", 54321), ("127.0.0.1", 9925)) == 1001
