"""Who is on the other end of a loopback TCP connection (Linux: /proc/net/tcp{,6}).

Both ends of a loopback connection are sockets on this machine, so the kernel's table
lists the client's socket too, with its owner's uid: the entry whose local address is
the peer's and whose remote address is ours.
"""

import ipaddress
import sys
from collections.abc import Iterable

__all__ = ["find_uid", "peer_uid"]

_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def _hex_address(host: str, port: int) -> set[str]:
    """The forms `host:port` takes in /proc/net/tcp and tcp6 (little-endian words)."""
    address = ipaddress.ip_address(host)
    forms = set()
    candidates = [address]
    if isinstance(address, ipaddress.IPv4Address):
        candidates.append(ipaddress.IPv6Address(f"::ffff:{address}"))
    elif address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    for candidate in candidates:
        packed = candidate.packed
        words = [packed[i : i + 4] for i in range(0, len(packed), 4)]
        text = "".join(word[::-1].hex().upper() for word in words)
        forms.add(f"{text}:{port:04X}")
    return forms


def find_uid(lines: Iterable[str], peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    """The uid owning the socket at `peer` connected to `local`, from table lines."""
    peer_forms = _hex_address(*peer)
    local_forms = _hex_address(*local)
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or fields[0] == "sl":
            continue
        if fields[1] in peer_forms and fields[2] in local_forms:
            return int(fields[7])
    return None


def peer_uid(peer: tuple[str, int], local: tuple[str, int]) -> int | None:
    """The uid of the process at `peer`, or None where it can't be known (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    for table in _TABLES:
        try:
            with open(table, encoding="ascii") as handle:
                uid = find_uid(handle, peer, local)
        except OSError:
            continue
        if uid is not None:
            return uid
    return None
