"""Encrypted state on disk: one AES-256-GCM file per document in $XDG_STATE_HOME/stsd.

File format, version 1 (all of it bound to the ciphertext as associated data, together
with the document's name, so a file can't be swapped for another document's):

    offset  size  field
    0       4     magic b"STSD"
    4       1     format version (1)
    5       8     key id: the first 8 bytes of SHA-256 over the master key's id context
    13      12    nonce, fresh and random for every write
    25      ...   ciphertext of UTF-8 JSON, followed by the 16-byte GCM tag

Invariants:
- The daemon is the only writer. A write goes to a 0600 temp file in the same 0700
  directory, is fsynced, renamed over the old file, and the directory fsynced: a reader
  (or a crash, or `kill -9`) sees the old document or the new one, never half.
- A file that can't be read (truncated, tampered, unknown version, another key) is
  logged, moved aside to `NAME.bad-STAMP` (never deleted) and treated as empty.
- A directory that can't be written (full disk, read-only) never stops the daemon: the
  document stays in memory, `problems()` says so until a write succeeds again.
- Nothing secret is logged; messages name files and reasons only.
"""

import contextlib
import errno
import hashlib
import json
import logging
import os
import secrets
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from stsd.daemon.errors import StoreUnavailable

__all__ = [
    "FORMAT_VERSION",
    "KEY_BYTES",
    "MAGIC",
    "Store",
    "atomic_write",
    "key_id",
]

log = logging.getLogger(__name__)

MAGIC = b"STSD"
FORMAT_VERSION = 1
KEY_BYTES = 32  # AES-256
_KEY_ID_BYTES = 8
_NONCE_BYTES = 12  # GCM's native nonce size: random nonces are safe far beyond our writes
_HEADER_BYTES = len(MAGIC) + 1 + _KEY_ID_BYTES + _NONCE_BYTES
_SUFFIX = ".enc"


def key_id(key: bytes) -> bytes:
    """A short, one-way name for a master key: tells "another key" from "tampered"."""
    return hashlib.sha256(b"stsd state key id\x00" + key).digest()[:_KEY_ID_BYTES]


class _Unreadable(Exception):
    """Why a state file can't be used; the message is safe to log."""


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` so readers see the old content or the new, never half.

    Temp file in the same directory (same file system), fsync, rename, fsync the
    directory: the rename is durable before this returns.
    """
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)  # O_CREAT's mode is filtered by the umask
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """Encrypted JSON documents in one private directory.

    `key` is None when no master key could be had: the store then works from memory
    only (nothing read, nothing written) and `problems()` says why.
    """

    def __init__(
        self,
        directory: Path,
        key: bytes | None,
        key_problem: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        key_where: str = "none",
    ) -> None:
        self._dir = directory
        self.key_where = key_where
        self._aead = AESGCM(key) if key is not None else None
        self._key_id = key_id(key) if key is not None else b""
        self._clock = clock
        self._key_problem = key_problem
        self._write_problem: str | None = None
        self._set_aside: list[str] = []

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def usable(self) -> bool:
        """True when documents can be read and written (a master key is at hand)."""
        return self._aead is not None

    def problems(self) -> list[str]:
        """What `status` should warn about: no key, writes failing, files set aside."""
        found = [p for p in (self._key_problem, self._write_problem) if p]
        return found + list(self._set_aside)

    def path(self, name: str) -> Path:
        return self._dir / f"{name}{_SUFFIX}"

    # -- reading ----------------------------------------------------------------------

    def read(self, name: str) -> dict[str, Any]:
        """Document `name`, or {} when there is none or it can't be read (then set aside)."""
        if self._aead is None:
            return {}
        path = self.path(name)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as error:
            # Unreadable (permissions?): leave it where it is, work without it.
            log.warning("state %s: can't read it (%s); working without it", path, error.strerror)
            return {}
        try:
            return self._decrypt(name, blob)
        except _Unreadable as problem:
            self._move_aside(path, str(problem))
            return {}

    def _decrypt(self, name: str, blob: bytes) -> dict[str, Any]:
        assert self._aead is not None  # noqa: S101 - read() checked
        if len(blob) < _HEADER_BYTES + 16 or not blob.startswith(MAGIC):
            raise _Unreadable("not a stsd state file, or truncated")
        version = blob[len(MAGIC)]
        if version != FORMAT_VERSION:
            raise _Unreadable(f"format version {version}, this stsd reads {FORMAT_VERSION}")
        header = blob[:_HEADER_BYTES]
        file_key_id = header[len(MAGIC) + 1 : len(MAGIC) + 1 + _KEY_ID_BYTES]
        nonce = header[-_NONCE_BYTES:]
        if file_key_id != self._key_id:
            raise _Unreadable("encrypted with another master key (was the key lost or replaced?)")
        try:
            plain = self._aead.decrypt(nonce, blob[_HEADER_BYTES:], _aad(header, name))
        except InvalidTag:
            raise _Unreadable("failed authentication: truncated or tampered with") from None
        try:
            document = json.loads(plain)
        except (ValueError, UnicodeDecodeError):
            raise _Unreadable("authentic but not JSON (a bug?)") from None
        if not isinstance(document, dict):
            raise _Unreadable("authentic but not a JSON object (a bug?)")
        return document

    def _move_aside(self, path: Path, reason: str) -> None:
        stamp = self._clock().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = path.with_name(f"{path.name}.bad-{stamp}")
        counter = 1
        while target.exists():
            counter += 1
            target = path.with_name(f"{path.name}.bad-{stamp}-{counter}")
        try:
            os.replace(path, target)
        except OSError as error:
            log.warning(
                "state %s: %s; can't move it aside (%s); ignoring it",
                path,
                reason,
                error.strerror,
            )
            self._set_aside.append(f"ignored unreadable {path.name}: {reason}")
            return
        log.warning("state %s: %s; moved aside to %s, starting without it", path, reason, target)
        self._set_aside.append(f"set aside unreadable {path.name} as {target.name}: {reason}")

    # -- writing ----------------------------------------------------------------------

    def write(self, name: str, document: dict[str, Any]) -> None:
        """Encrypt and write document `name` atomically.

        Raises:
            StoreUnavailable: no master key, or the directory can't be written; the
                message says why. The caller keeps the document in memory.
        """
        if self._aead is None:
            raise StoreUnavailable(
                f"the encrypted store is unavailable: {self._key_problem or 'no master key'}"
            )
        nonce = secrets.token_bytes(_NONCE_BYTES)
        header = MAGIC + bytes([FORMAT_VERSION]) + self._key_id + nonce
        plain = json.dumps(document, separators=(",", ":")).encode()
        blob = header + self._aead.encrypt(nonce, plain, _aad(header, name))
        try:
            self._ensure_dir()
            atomic_write(self.path(name), blob)
        except OSError as error:
            self._failed_write(error)
        if self._write_problem is not None:
            log.info("state %s: writable again", self._dir)
            self._write_problem = None

    def remove(self, name: str) -> None:
        """Delete document `name` (logout, lock). Missing is fine.

        Raises:
            StoreUnavailable: the directory can't be written.
        """
        try:
            self.path(name).unlink()
            _fsync_dir(self._dir)
        except FileNotFoundError:
            return
        except OSError as error:
            self._failed_write(error)

    def _failed_write(self, error: OSError) -> None:
        reason = error.strerror or type(error).__name__
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            reason = "the disk is full"
        elif error.errno == errno.EROFS:
            reason = "the file system is read-only"
        problem = f"can't write state to {self._dir} ({reason}): working from memory"
        if problem != self._write_problem:
            log.warning("%s", problem)
        self._write_problem = problem
        raise StoreUnavailable(problem) from None

    def _ensure_dir(self) -> None:
        with contextlib.suppress(FileExistsError):
            self._dir.mkdir(mode=0o700, parents=True)
        info = os.lstat(self._dir)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise OSError(errno.EPERM, f"{self._dir} is not a directory of ours")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(self._dir, 0o700)


def _aad(header: bytes, name: str) -> bytes:
    return header + b"\x00" + name.encode()
