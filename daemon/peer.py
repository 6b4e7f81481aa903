"""Who is on the other end of a loopback TCP connection (Linux).

The client's socket is the one whose local address is our peer and whose remote address
is us. Its owner's uid and its inode come from the kernel's sock_diag netlink interface
(`socket_owner`: one query for that exact socket, tens of microseconds, so it can run
when a connection opens), or, where netlink is unavailable (a sandbox that allows only
AF_UNIX/AF_INET*), from `/proc/net/tcp{,6}` (the whole table: milliseconds, for
threads only). The process holding the inode is found by scanning `/proc/PID/fd` of
that uid's processes (`process_of`): slower still, and racy by nature (a client may
close its socket right after the reply), so every field may be None.
Elsewhere (macOS) nothing is resolved.
"""

import contextlib
import ipaddress
import os
import socket
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Address",
    "Peer",
    "address_of",
    "process_of",
    "resolve_peer",
    "socket_owner",
]

_PROC = Path("/proc")
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


def socket_owner(peer: Address, local: Address, use_proc: bool = True) -> tuple[int, int] | None:
    """(uid, inode) of the client socket connected from `peer` to `local`, or None.

    None for a socket that is gone or closing (the kernel reports inode 0 then).
    `use_proc=False` keeps to the fast path: no /proc table where netlink fails.
    """
    global _netlink_usable
    if _netlink_usable:
        try:
            return _diag_lookup(peer, local)
        except OSError:
            _netlink_usable = False  # blocked here (seccomp, RestrictAddressFamilies)
    return _proc_lookup(peer, local) if use_proc else None


def _diag_lookup(peer: Address, local: Address) -> tuple[int, int] | None:
    client = ipaddress.ip_address(peer[0].split("%")[0])
    server = ipaddress.ip_address(local[0].split("%")[0])
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


def _proc_hex(address: Address) -> str:
    """An address as /proc/net/tcp* prints it: each 32-bit word in host order, hex."""
    packed = ipaddress.ip_address(address[0].split("%")[0]).packed
    words = [
        int.from_bytes(packed[i : i + 4], sys.byteorder).to_bytes(4, "big")
        for i in range(0, len(packed), 4)
    ]
    return f"{b''.join(words).hex().upper()}:{address[1]:04X}"


def _proc_lookup(peer: Address, local: Address, proc: Path = _PROC) -> tuple[int, int] | None:
    version = ipaddress.ip_address(peer[0].split("%")[0]).version
    table = proc / "net" / ("tcp" if version == 4 else "tcp6")
    # Local and remote address are adjacent columns: one search over the whole table
    # (at C speed: it holds every socket of the machine) instead of a loop over lines.
    needle = f" {_proc_hex(peer)} {_proc_hex(local)} ".encode()
    try:
        content = table.read_bytes()
    except OSError:
        return None
    at = content.find(needle)
    if at < 0:
        return None
    line_end = content.find(b"\n", at)
    fields = content[at : line_end if line_end >= 0 else None].split()
    if len(fields) < 9:
        return None
    uid, inode = int(fields[6]), int(fields[8])
    return (uid, inode) if inode else None


def process_of(inode: int, uid: int, proc: Path = _PROC) -> tuple[int, str | None] | None:
    """(pid, executable) of a process of `uid` holding socket `inode`, or None."""
    target = f"socket:[{inode}]"
    with os.scandir(proc) as entries:
        for entry in entries:
            if entry.name.isdigit():
                found = _holder(entry, uid, target)
                if found is not None:
                    return found
    return None


def _holder(entry: os.DirEntry[str], uid: int, target: str) -> tuple[int, str | None] | None:
    try:
        if entry.stat().st_uid != uid:
            return None
        fds = os.scandir(f"{entry.path}/fd")
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
                exe = os.readlink(f"{entry.path}/exe")
            return int(entry.name), exe
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
