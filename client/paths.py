"""Where stsd keeps its files, following XDG (the variables move everything, which is how
tests isolate a daemon).

- config:  $XDG_CONFIG_HOME/stsd/config.toml       (default ~/.config)
- state:   $XDG_STATE_HOME/stsd/                   (default ~/.local/state)
- runtime: $XDG_RUNTIME_DIR/stsd/ (mode 0700): control socket, token, address.
  Where XDG_RUNTIME_DIR is unset (CI, macOS) a per-user directory under the temp dir,
  created 0700 and checked (owner, mode, not a symlink) before use, never trusted blindly.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from stsd.client.values import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final

__all__ = ["Paths", "UnsafeRuntimeDir", "ensure_private_dir"]

# sun_path is 108 bytes on Linux and 104 on macOS; stay clear of both.
_MAX_SOCKET_PATH = 100


class UnsafeRuntimeDir(Exception):
    """The runtime directory exists but isn't ours alone."""


class Paths(Value):
    __slots__ = ("config_dir", "state_dir", "runtime_dir")
    config_dir: Final[Path]
    state_dir: Final[Path]
    runtime_dir: Final[Path]

    def __init__(self, config_dir: Path, state_dir: Path, runtime_dir: Path) -> None:
        self.config_dir = config_dir
        self.state_dir = state_dir
        self.runtime_dir = runtime_dir

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if env is None else env
        home = Path(env.get("HOME") or Path.home())

        def xdg(var: str, default: Path) -> Path:
            value = env.get(var, "")
            # The spec says relative paths are invalid and must be ignored.
            return Path(value) if value and os.path.isabs(value) else default

        runtime_base = env.get("XDG_RUNTIME_DIR", "")
        if runtime_base and os.path.isabs(runtime_base):
            runtime = Path(runtime_base) / "stsd"
        else:
            tmp = env.get("TMPDIR") or _temp_dir()
            runtime = Path(tmp) / f"stsd-{os.getuid()}"
        return cls(
            config_dir=xdg("XDG_CONFIG_HOME", home / ".config") / "stsd",
            state_dir=xdg("XDG_STATE_HOME", home / ".local" / "state") / "stsd",
            runtime_dir=runtime,
        )

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def control_socket(self) -> Path:
        return self.runtime_dir / "control.sock"

    @property
    def token_file(self) -> Path:
        return self.runtime_dir / "token"

    @property
    def address_file(self) -> Path:
        return self.runtime_dir / "address"

    def socket_path_problem(self) -> str | None:
        """Why the control socket can't live where it should, or None."""
        length = len(os.fsencode(self.control_socket))
        if length >= _MAX_SOCKET_PATH:
            return (
                f"the control socket path {self.control_socket} is {length} bytes; Unix "
                f"sockets need under {_MAX_SOCKET_PATH}: point XDG_RUNTIME_DIR at a shorter path"
            )
        return None


def _temp_dir() -> str:
    import tempfile  # only without XDG_RUNTIME_DIR: it imports random, hashlib and shutil

    return tempfile.gettempdir()


def ensure_private_dir(path: Path) -> Path:
    """Create `path` with mode 0700 if missing; refuse it unless it's ours alone.

    Raises:
        UnsafeRuntimeDir: it is a symlink, not a directory, owned by someone else, or
            open to group or others.
    """
    try:  # noqa: SIM105 - contextlib would be one more import for `stsd env`
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise UnsafeRuntimeDir(f"{path} is not a directory (a symlink?); remove it")
    if info.st_uid != os.getuid():
        raise UnsafeRuntimeDir(f"{path} belongs to uid {info.st_uid}, not to you; remove it")
    if info.st_mode & 0o077:
        raise UnsafeRuntimeDir(
            f"{path} has mode {stat.S_IMODE(info.st_mode):o}; it must be 0700 (chmod 700 it)"
        )
    return path
