"""Render environment changes as bash, zsh or fish lines."""

import os
import shlex
from collections.abc import Mapping, Sequence

__all__ = ["detect_shell", "render"]


def detect_shell(env: Mapping[str, str]) -> str:
    """The shell to print for: fish if $SHELL is fish, else POSIX (bash and zsh agree)."""
    name = os.path.basename(env.get("SHELL", ""))
    return name if name in {"bash", "zsh", "fish"} else "bash"


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(shell: str, assign: Mapping[str, str], remove: Sequence[str]) -> str:
    """Lines that set `assign` and unset `remove` in `shell`."""
    lines = []
    if shell == "fish":
        lines += [f"set -gx {name} {_fish_quote(value)};" for name, value in assign.items()]
        lines += [f"set -e {name};" for name in remove]
    else:
        lines += [f"export {name}={shlex.quote(value)};" for name, value in assign.items()]
        if remove:
            lines.append(f"unset {' '.join(remove)};")
    return "\n".join(lines) + "\n"
