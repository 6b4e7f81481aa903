"""The default authorization token file: random, 0600, no trailing newline.

botocore raises on a token file ending in a newline and the JS SDK then falls back to a
provider that sends no token, so the file holds the bare token. Both the daemon and
`stsd env` may create it (env works before the daemon first runs); creation is
atomic and first-writer-wins, replacement (rotation) atomic by rename.

`secrets` and `contextlib` are imported where a token is written: `stsd env` reads an
existing token on every run and would pay for them (hashlib, random) each time.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ensure_token", "new_token", "read_token", "write_token"]

_TOKEN_BYTES = 32


def new_token() -> str:
    import secrets

    return secrets.token_urlsafe(_TOKEN_BYTES)


def read_token(path: Path) -> str | None:
    """The token in `path`, or None when missing or not a token we wrote."""
    try:
        token = path.read_text(encoding="ascii")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return token if token and token.strip() == token and token.isprintable() else None


def _write_temp(path: Path, token: str) -> Path:
    import secrets

    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token)
        handle.flush()
        os.fsync(handle.fileno())
    return temp


def write_token(path: Path, token: str) -> None:
    """Replace the token atomically: readers see the old file or the new, never half."""
    temp = _write_temp(path, token)
    os.replace(temp, path)


def ensure_token(path: Path) -> str:
    """Return the token in `path`, creating it first if there is none."""
    existing = read_token(path)
    if existing is not None:
        return existing
    import contextlib

    temp = _write_temp(path, new_token())
    try:
        os.link(temp, path)  # fails if another process created it first: theirs wins
    except FileExistsError:
        existing = read_token(path)
        if existing is None:  # a broken file: replace it
            os.replace(temp, path)
            temp = path
    finally:
        if temp != path:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    token = read_token(path)
    assert token is not None  # noqa: S101 - we just wrote it
    return token
