"""Read ~/.aws/config and ~/.aws/credentials the way botocore finds them.

Standard library only: the CLI's hot commands use this too. Honours AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE (with `~` expanded, as botocore does). In the config file a
profile is `[profile NAME]` (or `[default]`); in the credentials file it is `[NAME]`.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from stsd.client.values import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final

__all__ = ["AwsFiles", "AwsFilesError", "load_aws_files"]

Sections = dict[str, dict[str, str]]


class AwsFilesError(Exception):
    """An AWS config or credentials file can't be parsed."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


class AwsFiles(Value):
    __slots__ = ("config_path", "credentials_path", "config", "credentials")
    _hidden = ("credentials",)  # access keys
    config_path: Final[Path]
    credentials_path: Final[Path]
    config: Final[Sections]  # profile name -> settings from the config file
    credentials: Final[Sections]  # profile name -> settings from the credentials file

    def __init__(
        self, config_path: Path, credentials_path: Path, config: Sections, credentials: Sections
    ) -> None:
        self.config_path = config_path
        self.credentials_path = credentials_path
        self.config = config
        self.credentials = credentials

    def profile(self, name: str) -> dict[str, str]:
        """A profile's settings as botocore merges them (credentials file wins)."""
        return {**self.config.get(name, {}), **self.credentials.get(name, {})}

    def role_profiles(self) -> list[str]:
        """Profiles that assume a role: the ones stsd serves."""
        return sorted(
            name
            for name in self.config.keys() | self.credentials.keys()
            if "role_arn" in self.profile(name)
        )

    def region(self, name: str) -> str | None:
        """The profile's region, else its source profile's (followed along the chain)."""
        seen: set[str] = set()
        current: str | None = name
        while current is not None and current not in seen:
            seen.add(current)
            settings = self.profile(current)
            if settings.get("region"):
                return settings["region"]
            current = settings.get("source_profile")
        return None

    def default_keys_in_credentials_file(self) -> bool:
        """True when `[default]` of the credentials file holds keys.

        botocore's chain reads that file before the container provider, so these keys
        would silently win over stsd.
        """
        return bool(self.credentials.get("default", {}).get("aws_access_key_id"))


def load_aws_files(env: Mapping[str, str] | None = None) -> AwsFiles:
    """Parse both files; a missing file is empty, a malformed one an `AwsFilesError`."""
    env = os.environ if env is None else env
    home = env.get("HOME") or str(Path.home())

    def location(var: str, default: str) -> Path:
        raw = env.get(var) or os.path.join(home, ".aws", default)
        if raw.startswith("~"):
            raw = home + raw[1:]
        return Path(raw)

    config_path = location("AWS_CONFIG_FILE", "config")
    credentials_path = location("AWS_SHARED_CREDENTIALS_FILE", "credentials")
    config: Sections = {}
    for section, values in _parse(config_path).items():
        if section == "default":
            config["default"] = values
        elif section.startswith("profile "):
            config[section.removeprefix("profile ").strip()] = values
        # Other sections (sso-session, services, plain names) aren't profiles here.
    return AwsFiles(config_path, credentials_path, config, _parse(credentials_path))


def _parse(path: Path) -> Sections:
    parser = configparser.RawConfigParser(strict=False, default_section="\0none")
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        return {}
    except (configparser.Error, UnicodeDecodeError) as error:
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise AwsFilesError(path, f"not a valid INI file ({problem})") from None
    except OSError as error:
        raise AwsFilesError(path, f"can't read it ({error.strerror})") from None
    return {name: dict(parser.items(name)) for name in parser.sections()}
