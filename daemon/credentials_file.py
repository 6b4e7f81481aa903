"""Take long-term keys out of ~/.aws/credentials without touching anything else.

configupdater edits the file as text: every other section, option, comment and blank
line stays byte for byte. A section left with neither options nor comments goes
(`[default]` with nothing in it only confuses). The new file replaces the old one
atomically, with the old file's mode; a symlinked file is edited where it points.
"""

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from configupdater import ConfigUpdater
from configupdater.block import Comment
from configupdater.option import Option

from stsd.daemon.errors import ConfigError
from stsd.daemon.store import atomic_write

__all__ = ["FileKeys", "KEY_OPTIONS", "read_keys", "remove_keys"]

KEY_OPTIONS = ("aws_access_key_id", "aws_secret_access_key")


@dataclass(frozen=True, slots=True)
class FileKeys:
    section: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


def _load(path: Path) -> ConfigUpdater:
    updater = ConfigUpdater(strict=False)
    try:
        updater.read_string(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: there are no keys to import") from None
    except OSError as error:
        raise ConfigError(f"can't read {path} ({error.strerror})") from None
    except Exception as error:  # noqa: BLE001 - configupdater's parse errors
        # The type only: a parser message may quote a line of the file, a key with it.
        raise ConfigError(f"{path} is not a valid INI file ({type(error).__name__})") from None
    return updater


def read_keys(path: Path, section: str) -> FileKeys | None:
    """The keys in `[section]` of the credentials file, or None if it holds none.

    Raises:
        ConfigError: unreadable file, half a key pair, or temporary credentials.
    """
    updater = _load(path)
    if not updater.has_section(section):
        return None
    values = {
        key: (updater[section][key].value or "").strip()
        for key in (*KEY_OPTIONS, "aws_session_token")
        if updater.has_option(section, key)
    }
    if not values.get("aws_access_key_id") and not values.get("aws_secret_access_key"):
        return None
    if not values.get("aws_access_key_id") or not values.get("aws_secret_access_key"):
        raise ConfigError(f"{path}: [{section}] holds only half a key pair")
    if values.get("aws_session_token"):
        raise ConfigError(
            f"{path}: [{section}] holds temporary credentials (aws_session_token); "
            "stsd keeps a bastion user's long-term keys only"
        )
    return FileKeys(section, values["aws_access_key_id"], values["aws_secret_access_key"])


def remove_keys(path: Path, section: str) -> None:
    """Delete the key options of `[section]`, keeping everything else; atomic."""
    target = path.resolve()  # a symlinked credentials file stays a symlink
    updater = _load(target)
    if not updater.has_section(section):
        return
    block = updater[section]
    for key in KEY_OPTIONS:
        if updater.has_option(section, key):
            del block[key]
    kept = [b for b in block.iter_blocks() if isinstance(b, Option | Comment)]
    if not kept:
        block.detach()
    mode = stat.S_IMODE(os.stat(target).st_mode)
    atomic_write(target, str(updater).encode("utf-8"), mode=mode)
