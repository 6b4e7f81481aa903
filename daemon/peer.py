"""Who is on the other end of a loopback TCP connection (Linux).

The client's socket is the one whose local address is our peer and whose remote address
is us. Its owner's uid and its inode come from the kernel's sock_diag netlink interface
(`socket_owner`: one query for that exact socket, about 30 microseconds, fit for the
request path: IMDS checks `peer_uid` on every request), or, where netlink is
unavailable (a sandbox that allows only AF_UNIX/AF_INET*), from `/proc/net/tcp{,6}`
(the whole table, parsed by `find_owner`: milliseconds on a busy machine).

The process holding the inode is found by scanning `/proc/PID/fd` of that uid's
processes (`process_of`): slower still (the audit log does it on its own thread), and
racy by nature (a client may close its socket right after the reply), so every field
may be None. Elsewhere (macOS) nothing is resolved.
"""

import collections
import contextlib
import ipaddress
import os
import socket
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Address",
    "Peer",
    "address_of",
    "find_owner",
    "find_uid",
    "peer_uid",
    "process_of",
    "resolve_peer",
    "socket_owner",
]

_PROC = Path("/proc")
_TABLES = ("tcp", "tcp6")
Address = tuple[str, int]

# linux/sock_diag.h, linux/inet_diag.h, linux/netlink.h
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NLMSG_HEADER = struct.Struct("=IHHII")
# inet_diag_req_v2: family, protocol, ext, pad, states (native order), then
# inet_diag_sockid: sport, dport, src[16], dst[16] (network order), interface, cookie[2].
_DIAG_SOCKID = struct.Struct(">HH16s16s")
# inet_diag_msg: family, state, timer, retrans, sockid (48 bytes), expires, rqueue,
# wqueue, uid, inode.
_DIAG_MESSAGE_TAIL = struct.Struct("=IIIII")
_SOCKID_BYTES = 48
_NO_COOKIE = 0xFFFFFFFF
_netlink_usable = sys.platform.startswith("linux")


@dataclass(frozen=True, slots=True)
class Peer:
    uid: int | None = None
    pid: int | None = None
    exe: str | None = None

    def to_json(self) -> dict[str, int | str | None]:
        return {"uid": self.uid, "pid": self.pid, "exe": self.exe}


def address_of(info: object) -> Address | None:
    """(host, port) from a transport's peername/sockname (IPv6 gives four fields)."""
    if isinstance(info, tuple) and len(info) >= 2:
        return str(info[0]), int(info[1])
    return None


def peer_uid(peer: Address, local: Address) -> int | None:
    """The uid of the process at `peer`, or None where it can't be known (not Linux)."""
    try:
        owner = socket_owner(peer, local)
    except ValueError:  # not an IP address
        return None
    return None if owner is None else owner[0]


def socket_owner(peer: Address, local: Address, use_proc: bool = True) -> tuple[int, int] | None:
    """(uid, inode) of the client socket connected from `peer` to `local`, or None.

    None for a socket that is gone or closing (the kernel reports inode 0 then), and
    off Linux. `use_proc=False` keeps to the fast path: no /proc table when netlink
    is blocked.
    """
    global _netlink_usable
    if not sys.platform.startswith("linux"):
        return None
    if _netlink_usable:
        try:
            return _diag_lookup(peer, local)
        except OSError:
            _netlink_usable = False  # blocked here (seccomp, RestrictAddressFamilies)
    return _proc_lookup(peer, local) if use_proc else None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(host.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a v4 client of a dual-stack socket is a v4 socket
    return address


def _diag_lookup(peer: Address, local: Address) -> tuple[int, int] | None:
    client, server = _ip(peer[0]), _ip(local[0])
    family = socket.AF_INET if client.version == 4 else socket.AF_INET6
    sockid = _DIAG_SOCKID.pack(
        peer[1], local[1], client.packed.ljust(16, b"\0"), server.packed.ljust(16, b"\0")
    )
    body = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF)
    body += sockid + struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE)
    header = _NLMSG_HEADER.pack(
        _NLMSG_HEADER.size + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0
    )
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as link:
        link.settimeout(1.0)
        link.send(header + body)
        reply = link.recv(8192)
    length, kind, _, _, _ = _NLMSG_HEADER.unpack_from(reply)
    if kind == _NLMSG_ERROR:
        return None  # ENOENT: no such socket (any longer)
    offset = _NLMSG_HEADER.size + 4 + _SOCKID_BYTES
    if length < offset + _DIAG_MESSAGE_TAIL.size:
        return None
    _, _, _, uid, inode = _DIAG_MESSAGE_TAIL.unpack_from(reply, offset)
    return (uid, inode) if inode else None


def _hex_forms(host: str, port: int) -> set[str]:
    """The forms `host:port` takes in /proc/net/tcp and tcp6: each 32-bit word in host
    order, and an IPv4 address also as IPv4-mapped IPv6."""
    address = ipaddress.ip_address(host.split("%")[0])
    candidates = [address]
    if isinstance(address, ipaddress.IPv4Address):
        candidates.append(ipaddress.IPv6Address(f"::ffff:{address}"))
    elif address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    forms = set()
    for candidate in candidates:
        packed = candidate.packed
        words = [
            int.from_bytes(packed[i : i + 4], sys.byteorder).to_bytes(4, "big")
            for i in range(0, len(packed), 4)
        ]
        forms.add(f"{b''.join(words).hex().upper()}:{port:04X}")
    return forms


def find_owner(
    lines: Iterable[str], peer: Address, local: Address
) -> tuple[int, int | None] | None:
    """(uid, inode) of the socket at `peer` connected to `local`, from table lines."""
    peer_forms, local_forms = _hex_forms(*peer), _hex_forms(*local)
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or fields[0] == "sl":
            continue
        if fields[1] in peer_forms and fields[2] in local_forms:
            return int(fields[7]), int(fields[9]) if len(fields) > 9 else None
    return None


def find_uid(lines: Iterable[str], peer: Address, local: Address) -> int | None:
    """The uid owning the socket at `peer` connected to `local`, from table lines."""
    owner = find_owner(lines, peer, local)
    return None if owner is None else owner[0]


def _proc_lookup(peer: Address, local: Address, proc: Path = _PROC) -> tuple[int, int] | None:
    for table in _TABLES:
        try:
            with (proc / "net" / table).open(encoding="ascii") as handle:
                owner = find_owner(handle, peer, local)
        except OSError:
            continue
        if owner is not None:
            uid, inode = owner
            # A closed socket (TIME_WAIT) shows uid 0 and inode 0: nobody's.
            return (uid, inode) if inode else None
    return None


# Processes that held the last few client sockets. A client often opens several
# connections (terraform's providers, a load test, an SDK's pool): looking at these
# first spares a scan of every process for each connection (milliseconds each).
_recent_holders: collections.deque[int] = collections.deque(maxlen=8)


def process_of(inode: int, uid: int, proc: Path = _PROC) -> tuple[int, str | None] | None:
    """(pid, executable) of a process of `uid` holding socket `inode`, or None."""
    target = f"socket:[{inode}]"
    for pid in list(_recent_holders):
        found = _holder(f"{proc}/{pid}", uid, target)
        if found is not None:
            return found
    with os.scandir(proc) as entries:
        for entry in entries:
            if entry.name.isdigit():
                found = _holder(entry.path, uid, target)
                if found is not None:
                    with contextlib.suppress(ValueError):
                        _recent_holders.remove(found[0])
                    _recent_holders.appendleft(found[0])
                    return found
    return None


def _holder(path: str, uid: int, target: str) -> tuple[int, str | None] | None:
    """(pid, executable) of the process at /proc/PID `path` if it is `uid`'s and holds
    `target` among its file descriptors."""
    try:
        if os.stat(path).st_uid != uid:
            return None
        fds = os.scandir(f"{path}/fd")
    except OSError:
        return None
    with fds:
        for fd in fds:
            try:
                if os.readlink(fd.path) != target:
                    continue
            except OSError:
                continue
            exe = None
            with contextlib.suppress(OSError):
                exe = os.readlink(f"{path}/exe")
            return int(os.path.basename(path)), exe
    return None


def resolve_peer(
    peer: Address | None, local: Address | None, owner: tuple[int, int] | None = None
) -> Peer:
    """Everything known about the client at `peer`; `owner` if already looked up."""
    if peer is None or local is None or not sys.platform.startswith("linux"):
        return Peer()
    if owner is None:
        try:
            owner = socket_owner(peer, local)
        except ValueError:  # not an IP address (a Unix socket's peer, say)
            return Peer()
    if owner is None:
        return Peer()
    uid, inode = owner
    found = process_of(inode, uid)
    if found is None:
        return Peer(uid=uid)
    return Peer(uid=uid, pid=found[0], exe=found[1])
