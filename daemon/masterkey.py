"""The master key of the encrypted store: in the OS secret store, or a 0600 key file.

Choice (`store_key` in config.toml):
- "auto" (default): the OS secret store through `keyring` when a real backend exists
  (Secret Service, macOS Keychain, Windows Credential Locker), else the key file. The
  choice sticks: a key file that exists stays in use, and state encrypted with a keyring
  key is never given up for a new key file because the keyring is down for a while
  (the daemon works from memory until it is back).
- "keyring": the OS secret store or nothing (the daemon then works from memory).
- "file": `master.key` beside the state, mode 0600.

A key file only helps against copies of the state without the key; the keyring keeps
the key out of the home directory altogether. `status` says which one is in use.
A key source that fails never stops the daemon: `MasterKey.problem` says why and the
store works from memory.
"""

import base64
import binascii
import contextlib
import logging
import os
import secrets
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from stsd.daemon.store import KEY_BYTES, atomic_write

__all__ = ["KEYRING_SERVICE", "KEY_CHOICES", "MasterKey", "keyring_backend", "load_master_key"]

log = logging.getLogger(__name__)

KEYRING_SERVICE = "stsd"
KEY_CHOICES = ("auto", "keyring", "file")
KEY_FILE_NAME = "master.key"
# A locked keyring may pop up an unlock dialog: don't hold the daemon's start forever.
_KEYRING_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The key (None if none could be had), where it lives, and what went wrong."""

    key: bytes | None
    where: str  # "keyring (BACKEND)" or "file (PATH)", for status
    kind: str  # "keyring" or "file"
    problem: str | None = None


def keyring_backend() -> str | None:
    """The name of a real keyring backend here, or None (fail/null/plaintext ones)."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null
    except ImportError:
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    if type(backend).__module__.startswith("keyrings.alt"):
        return None  # keyrings.alt keeps "secrets" in files, some in plain text
    name = getattr(backend, "name", None) or type(backend).__name__
    return str(name)


def load_master_key(state_dir: Path, choice: str = "auto") -> MasterKey:
    """The store's master key per `choice`, created on first use."""
    if choice not in KEY_CHOICES:
        raise ValueError(f"store_key must be one of {', '.join(KEY_CHOICES)}")
    key_file = state_dir / KEY_FILE_NAME
    if choice == "auto" and (key_file.exists() or key_file.is_symlink()):
        return _from_file(key_file)
    backend = keyring_backend() if choice in ("auto", "keyring") else None
    if backend is not None:
        return _from_keyring(state_dir, backend)
    if choice == "auto" and any(state_dir.glob("*.enc")):
        return MasterKey(
            None,
            "keyring (not available now)",
            "keyring",
            "the state was encrypted with a key in the OS keyring, which is not reachable "
            "now: working from memory until it is (restart stsd then)",
        )
    if choice == "keyring":
        return MasterKey(
            None,
            "keyring (none available)",
            "keyring",
            'store_key = "keyring" but no keyring backend is available here: '
            'working from memory (set store_key = "file" to use a key file)',
        )
    return _from_file(key_file)


def _account(state_dir: Path) -> str:
    # One key per state dir: two stsd installations never share (or clobber) a key.
    return f"state-key {state_dir}"


def _from_keyring(state_dir: Path, backend: str) -> MasterKey:
    where = f"keyring ({backend})"
    result: list[MasterKey] = []

    def work() -> None:
        result.append(_keyring_key(state_dir, where))

    worker = threading.Thread(target=work, name="keyring", daemon=True)
    worker.start()
    worker.join(_KEYRING_TIMEOUT_SECONDS)
    if not result:
        return MasterKey(
            None,
            where,
            "keyring",
            f"the keyring did not answer in {_KEYRING_TIMEOUT_SECONDS:.0f} s (locked?): "
            "working from memory",
        )
    return result[0]


def _keyring_key(state_dir: Path, where: str) -> MasterKey:
    import keyring

    account = _account(state_dir)
    try:
        stored = keyring.get_password(KEYRING_SERVICE, account)
        if stored is not None:
            key = _decode(stored)
            if key is not None:
                return MasterKey(key, where, "keyring")
            log.warning("the master key in the keyring is malformed; replacing it")
        key = secrets.token_bytes(KEY_BYTES)
        keyring.set_password(KEYRING_SERVICE, account, base64.b64encode(key).decode())
        log.info("created the store's master key in the %s", where)
        return MasterKey(key, where, "keyring")
    except Exception as error:  # noqa: BLE001 - backends raise their own types
        # The type only: a backend's message might quote what it was handed.
        return MasterKey(
            None,
            where,
            "keyring",
            f"the keyring failed ({type(error).__name__}): working from memory",
        )


def _decode(text: str) -> bytes | None:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None


def _from_file(path: Path) -> MasterKey:
    where = f"file ({path})"
    try:
        with contextlib.suppress(FileExistsError):
            path.parent.mkdir(mode=0o700, parents=True)
        key = _read_key_file(path)
        if key is None:
            _create_key_file(path)
            key = _read_key_file(path)
        if key is None:
            raise _KeyFileRefused(f"the key file {path} vanished as it was created")
        return MasterKey(key, where, "file")
    except _KeyFileRefused as refused:
        return MasterKey(None, where, "file", f"{refused}: working from memory")
    except OSError as error:
        return MasterKey(
            None,
            where,
            "file",
            f"can't create the key file {path} ({error.strerror}): working from memory",
        )


class _KeyFileRefused(Exception):
    pass


def _create_key_file(path: Path) -> None:
    """A new key file, complete before it appears; first writer wins (never replaced:
    another key file would orphan the state encrypted with it)."""
    temp = path.with_name(f".{path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
    atomic_write(temp, base64.b64encode(secrets.token_bytes(KEY_BYTES)))
    try:
        os.link(temp, path)
        log.info("created the store's master key in %s", path)
    except FileExistsError:
        pass
    finally:
        temp.unlink()


def _read_key_file(path: Path) -> bytes | None:
    """The key in `path`; None if there is no file. Refuses a file others could read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _KeyFileRefused(f"can't open the key file {path} ({error.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise _KeyFileRefused(
                f"the key file {path} has mode {stat.S_IMODE(info.st_mode):o} or another "
                "owner; it must be yours with mode 600"
            )
        key = _decode(handle.read().decode("ascii", "replace").strip())
    if key is None:
        # Replacing it would orphan every file it encrypted: refuse, let the user decide.
        raise _KeyFileRefused(f"the key file {path} is malformed; move it away to start afresh")
    return key
