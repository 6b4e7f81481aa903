"""stsd's own settings: $XDG_CONFIG_HOME/stsd/config.toml.

Every key is optional:

    listen = "127.0.0.1:9925"          # the credentials endpoint; loopback only
    default_profile = "prod-ro"        # what `stsd env` serves without a PROFILE
    session_duration_seconds = 43200   # GetSessionToken: 900..129600 (12 h default)
    store_key = "auto"                 # the state's master key: auto, keyring or file
    lock_on_screen_lock = false        # `stsd lock` when the screen locks (Linux, D-Bus)

    [refresh]                          # DESIGN.md, "Refresh rules"
    floor_seconds = 1200               # never serve less than this left
    trigger_seconds = 1800             # re-assume in the background below this
    hard_floor_seconds = 300           # while STS fails, serve down to this
    active_window_seconds = 43200      # keep roles used this recently fresh
    prompt_before_seconds = 1800       # ask for a new MFA code this long before the session ends
    reassume_before_seconds = 600      # re-assume active roles this long before it ends

    [imds]                             # IMDSv2 for tools that speak only that; off
    profile = "prod-ro"                # the one role profile it serves

    [console]                          # `stsd console`
    signin_url = "https://signin.aws.amazon.com/federation"   # other partitions differ

    [mfa]                              # how stsd asks for MFA codes
    drivers = ["mfa_process", "notify", "terminal"]   # the order for every source
    link_lifetime_seconds = 600        # one-time links to the MFA web page

    [sources.bastion]                  # per source profile
    mfa_drivers = ["mfa_process", "terminal"]         # overrides [mfa] drivers

    [exec]                             # `stsd exec`
    lease_seconds = 15                 # a killed `stsd exec`'s token dies within this

    [endpoint]                         # the credentials endpoint's limits
    max_connections = 512              # beyond it, the longest idle connection is closed
    connection_timeout_seconds = 10    # a whole request must arrive within this

MFA driver names are checked by the daemon (`stsd serve`), which knows them.
"""

from __future__ import annotations

from datetime import timedelta

from stsd.client.values import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any, Final

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_SIGNIN_URL",
    "Settings",
    "SettingsError",
    "load_settings",
    "parse_listen",
]

# A fixed port, so `stsd env` lines in a shell rc stay valid across restarts; below the
# Linux ephemeral range (32768+) so an outgoing connection never holds it.
DEFAULT_LISTEN = "127.0.0.1:9925"
DEFAULT_SIGNIN_URL = "https://signin.aws.amazon.com/federation"


_STORE_KEYS = ("auto", "keyring", "file")


class SettingsError(Exception):
    """config.toml is broken; the message names the file and the key."""


class Settings(Value):
    """Every setting, defaults filled in (`Settings()`: no config.toml)."""

    __slots__ = (
        "listen",
        "default_profile",
        "session_duration",
        "floor",
        "trigger",
        "hard_floor",
        "active_window",
        "prompt_before",
        "reassume_before",
        "store_key",
        "lock_on_screen_lock",
        "signin_url",
        "imds_profile",
        "exec_lease",
        "max_connections",
        "connection_timeout",
        "mfa_drivers",
        "source_mfa_drivers",
        "mfa_link_lifetime",
    )
    listen: Final[str]
    default_profile: Final[str | None]
    session_duration: Final[timedelta]
    floor: Final[timedelta]
    trigger: Final[timedelta]
    hard_floor: Final[timedelta]
    active_window: Final[timedelta]
    prompt_before: Final[timedelta]
    reassume_before: Final[timedelta]
    store_key: Final[str]
    lock_on_screen_lock: Final[bool]
    signin_url: Final[str]
    imds_profile: Final[str | None]
    exec_lease: Final[timedelta]
    max_connections: Final[int]
    connection_timeout: Final[timedelta]
    mfa_drivers: Final[tuple[str, ...] | None]  # None: every driver, in the default order
    source_mfa_drivers: Final[Mapping[str, tuple[str, ...]]]
    mfa_link_lifetime: Final[timedelta]

    def __init__(
        self,
        listen: str = DEFAULT_LISTEN,
        default_profile: str | None = None,
        session_duration: timedelta = timedelta(hours=12),
        floor: timedelta = timedelta(minutes=20),
        trigger: timedelta = timedelta(minutes=30),
        hard_floor: timedelta = timedelta(minutes=5),
        active_window: timedelta = timedelta(hours=12),
        prompt_before: timedelta = timedelta(minutes=30),
        reassume_before: timedelta = timedelta(minutes=10),
        store_key: str = "auto",
        lock_on_screen_lock: bool = False,
        signin_url: str = DEFAULT_SIGNIN_URL,
        imds_profile: str | None = None,
        exec_lease: timedelta = timedelta(seconds=15),
        max_connections: int = 512,
        connection_timeout: timedelta = timedelta(seconds=10),
        mfa_drivers: tuple[str, ...] | None = None,
        source_mfa_drivers: Mapping[str, tuple[str, ...]] | None = None,
        mfa_link_lifetime: timedelta = timedelta(minutes=10),
    ) -> None:
        self.listen = listen
        self.default_profile = default_profile
        self.session_duration = session_duration
        self.floor = floor
        self.trigger = trigger
        self.hard_floor = hard_floor
        self.active_window = active_window
        self.prompt_before = prompt_before
        self.reassume_before = reassume_before
        self.store_key = store_key
        self.lock_on_screen_lock = lock_on_screen_lock
        self.signin_url = signin_url
        self.imds_profile = imds_profile
        self.exec_lease = exec_lease
        self.max_connections = max_connections
        self.connection_timeout = connection_timeout
        self.mfa_drivers = mfa_drivers
        self.source_mfa_drivers = {} if source_mfa_drivers is None else source_mfa_drivers
        self.mfa_link_lifetime = mfa_link_lifetime

    def mfa_drivers_for(self, source: str) -> tuple[str, ...] | None:
        """The MFA drivers to try for `source`, in order; None for the default order."""
        return self.source_mfa_drivers.get(source, self.mfa_drivers)


def parse_listen(value: str) -> tuple[str, int]:
    """Split `HOST:PORT`; refuse anything that isn't a loopback address.

    Raises:
        ValueError: with a message fit for the user.
    """
    import ipaddress  # the daemon and config.toml need it, not `stsd env` without one

    host, sep, port_text = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"listen address {value!r} is not HOST:PORT")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"listen address {value!r} is not a loopback IP: stsd serves credentials "
            "to this machine only (use 127.0.0.1)"
        )
    return host, int(port_text)


def load_settings(path: Path) -> Settings:
    """Read config.toml; a missing file means all defaults.

    Raises:
        SettingsError: unreadable TOML, unknown keys, or values out of range.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except UnicodeDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML ({error})") from None
    except OSError as error:
        raise SettingsError(f"{path}: can't read it ({error.strerror})") from None
    import tomllib  # ~9 ms: only when there is a file to parse

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML ({error})") from None
    reader = _Reader(path, raw)
    refresh = _Reader(path, reader.table("refresh"), prefix="refresh.")
    console = _Reader(path, reader.table("console"), prefix="console.")
    imds = _Reader(path, reader.table("imds"), prefix="imds.")
    mfa = _Reader(path, reader.table("mfa"), prefix="mfa.")
    per_source = {
        name: _Reader(path, reader.table_of("sources", name), prefix=f"sources.{name}.")
        for name in reader.table("sources")
    }
    exec_ = _Reader(path, reader.table("exec"), prefix="exec.")
    endpoint = _Reader(path, reader.table("endpoint"), prefix="endpoint.")
    defaults = Settings()
    listen = reader.string("listen") or defaults.listen
    try:
        parse_listen(listen)
    except ValueError as error:
        raise SettingsError(f"{path}: {error}") from None
    session_duration = (
        reader.seconds("session_duration_seconds", 900, 129600) or defaults.session_duration
    )
    # The leads before a session's end: defaults shrink to fit a short session (900 s is
    # allowed), values given must fit it.
    prompt_before = refresh.seconds("prompt_before_seconds", 1, 129600)
    reassume_before = refresh.seconds("reassume_before_seconds", 1, 129600)
    for key, lead in (
        ("prompt_before_seconds", prompt_before),
        ("reassume_before_seconds", reassume_before),
    ):
        if lead is not None and lead >= session_duration:
            raise SettingsError(
                f"{path}: refresh.{key} must be shorter than session_duration_seconds "
                f"({int(session_duration.total_seconds())})"
            )
    settings = Settings(
        listen=listen,
        default_profile=reader.string("default_profile"),
        session_duration=session_duration,
        floor=refresh.seconds("floor_seconds", 1, 3600) or defaults.floor,
        trigger=refresh.seconds("trigger_seconds", 1, 3599) or defaults.trigger,
        hard_floor=refresh.seconds("hard_floor_seconds", 1, 3600) or defaults.hard_floor,
        active_window=refresh.seconds("active_window_seconds", 60, 7 * 86400)
        or defaults.active_window,
        prompt_before=prompt_before or min(defaults.prompt_before, session_duration / 2),
        reassume_before=reassume_before or min(defaults.reassume_before, session_duration / 3),
        store_key=reader.choice("store_key", _STORE_KEYS) or defaults.store_key,
        lock_on_screen_lock=reader.flag("lock_on_screen_lock") or defaults.lock_on_screen_lock,
        signin_url=console.string("signin_url") or defaults.signin_url,
        imds_profile=imds.string("profile"),
        mfa_drivers=mfa.names("drivers"),
        source_mfa_drivers={
            name: drivers
            for name, table in per_source.items()
            if (drivers := table.names("mfa_drivers")) is not None
        },
        mfa_link_lifetime=mfa.seconds("link_lifetime_seconds", 1, 3600)
        or defaults.mfa_link_lifetime,
        exec_lease=exec_.seconds("lease_seconds", 1, 300) or defaults.exec_lease,
        max_connections=endpoint.integer("max_connections", 4, 65536) or defaults.max_connections,
        connection_timeout=endpoint.seconds("connection_timeout_seconds", 1, 300)
        or defaults.connection_timeout,
    )
    if not settings.signin_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise SettingsError(f"{path}: console.signin_url must be an https:// URL")
    for table in (reader, refresh, console, imds, mfa, *per_source.values(), exec_, endpoint):
        table.reject_unknown()
    if not settings.hard_floor < settings.floor < settings.trigger:
        raise SettingsError(
            f"{path}: [refresh] needs hard_floor_seconds < floor_seconds < trigger_seconds"
        )
    return settings


class _Reader:
    def __init__(self, path: Path, table: dict[str, Any], prefix: str = "") -> None:
        self._path = path
        self._table = table
        self._prefix = prefix
        self._known: set[str] = set()

    def _get(self, key: str) -> Any:
        self._known.add(key)
        return self._table.get(key)

    def table(self, key: str) -> dict[str, Any]:
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise SettingsError(f"{self._path}: {self._prefix}{key} must be a table")
        return value

    def table_of(self, key: str, name: str) -> dict[str, Any]:
        """`[key.name]`: a table inside the table `key`."""
        value = self.table(key).get(name)
        if not isinstance(value, dict):
            raise SettingsError(f"{self._path}: {self._prefix}{key}.{name} must be a table")
        return value

    def names(self, key: str) -> tuple[str, ...] | None:
        """A non-empty list of distinct names, e.g. MFA drivers in order."""
        value = self._get(key)
        if value is None:
            return None
        where = f"{self._path}: {self._prefix}{key}"
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f'{where} must be a list of names, e.g. ["mfa_process", "notify"]')
        if not value:
            raise SettingsError(f"{where} is empty: name at least one (e.g. terminal)")
        if len(set(value)) != len(value):
            raise SettingsError(f"{where} names a driver twice")
        return tuple(value)

    def string(self, key: str) -> str | None:
        value = self._get(key)
        if value is not None and not isinstance(value, str):
            raise SettingsError(f"{self._path}: {self._prefix}{key} must be a string")
        return value

    def choice(self, key: str, allowed: tuple[str, ...]) -> str | None:
        value = self.string(key)
        if value is not None and value not in allowed:
            raise SettingsError(
                f"{self._path}: {self._prefix}{key} must be one of {', '.join(allowed)}"
            )
        return value

    def flag(self, key: str) -> bool | None:
        value = self._get(key)
        if value is not None and not isinstance(value, bool):
            raise SettingsError(f"{self._path}: {self._prefix}{key} must be true or false")
        return value

    def seconds(self, key: str, low: int, high: int) -> timedelta | None:
        value = self.integer(key, low, high, "of seconds ")
        return None if value is None else timedelta(seconds=value)

    def integer(self, key: str, low: int, high: int, unit: str = "") -> int | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SettingsError(
                f"{self._path}: {self._prefix}{key} must be a whole number {unit}"
                f"from {low} to {high}"
            )
        return value

    def reject_unknown(self) -> None:
        unknown = sorted(set(self._table) - self._known)
        if unknown:
            names = ", ".join(self._prefix + key for key in unknown)
            raise SettingsError(f"{self._path}: unknown setting {names}")
