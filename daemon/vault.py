"""What stsd keeps in its encrypted store, as typed values: three documents.

- `keys`: long-term access keys of source profiles (moved there by `stsd keys import`).
- `totp`: opt-in TOTP seeds (`stsd mfa totp add`): the second factor on this disk.
- `sessions`: MFA sessions and role credentials, so a restart needs no new MFA code.

Long-term keys and seeds are written before anything relies on them: a failed write
raises and nothing changes. The session cache is best effort: a failed write leaves it
in memory and `Store.problems()` says so.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stsd.daemon.errors import StoreUnavailable
from stsd.daemon.masterkey import load_master_key
from stsd.daemon.model import CachedRole, CachedSession, Credentials, RoleCredentials, Session
from stsd.daemon.store import Store

__all__ = ["StoredKey", "TotpSeed", "Vault", "open_vault"]

log = logging.getLogger(__name__)

_KEYS = "keys"
_TOTP = "totp"
_SESSIONS = "sessions"


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A source profile's long-term access key, as kept in the store."""

    source: str
    credentials: Credentials = field(repr=False)
    stored_at: datetime


@dataclass(frozen=True, slots=True)
class TotpSeed:
    """A TOTP generator's parameters; `secret` is base32. AWS devices: 6 digits, 30 s."""

    secret: str = field(repr=False)
    digits: int = 6
    period: int = 30
    algorithm: str = "SHA1"


def open_vault(state_dir: Path, key_choice: str = "auto") -> "Vault":
    """The daemon's vault: the master key per `key_choice`, the store in `state_dir`."""
    master = load_master_key(state_dir, key_choice)
    if master.problem:
        log.warning("store: %s", master.problem)
    else:
        log.info("store: %s, master key in the %s", state_dir, master.where)
    return Vault(Store(state_dir, master.key, master.problem, key_where=master.where))


class Vault:
    """Typed access to the store's documents; the daemon holds the only instance."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._docs: dict[str, dict[str, Any]] = {}

    @property
    def store(self) -> Store:
        return self._store

    def _doc(self, name: str) -> dict[str, Any]:
        if name not in self._docs:
            self._docs[name] = self._store.read(name)
        return self._docs[name]

    def _commit(self, name: str, document: dict[str, Any]) -> None:
        """Write first, then believe it: a failed write changes nothing (raises)."""
        self._store.write(name, document)
        self._docs[name] = document

    def problems(self) -> list[str]:
        return self._store.problems()

    def describe(self) -> dict[str, Any]:
        """For `status`: where the state lives and where its key is; no secrets."""
        return {
            "dir": str(self._store.directory),
            "key": self._store.key_where,
            "usable": self._store.usable,
            "problems": self._store.problems(),
            "keys": sorted(self.stored_keys()),
            "totp": sorted(self.seeds()),
        }

    # -- long-term keys ---------------------------------------------------------------

    def credentials(self) -> Mapping[str, Credentials]:
        """Stored long-term keys by source profile, as config.build_config takes them."""
        return {source: stored.credentials for source, stored in self.stored_keys().items()}

    def stored_keys(self) -> dict[str, StoredKey]:
        result = {}
        for source, raw in self._doc(_KEYS).get("sources", {}).items():
            try:
                result[source] = StoredKey(
                    source,
                    Credentials(raw["access_key_id"], raw["secret_access_key"]),
                    _time(raw["stored_at"]) or datetime.now(UTC),
                )
            except (KeyError, TypeError):
                log.warning("state keys: entry for %s is malformed; ignoring it", source)
        return result

    def put_keys(self, source: str, credentials: Credentials, now: datetime) -> None:
        """Keep `source`'s long-term key. Raises StoreUnavailable if it can't be written."""
        sources = dict(self._doc(_KEYS).get("sources", {}))
        sources[source] = {
            "access_key_id": credentials.access_key_id,
            "secret_access_key": credentials.secret_access_key,
            "stored_at": _iso(now),
        }
        self._commit(_KEYS, {"sources": sources})

    def remove_keys(self, source: str) -> bool:
        """Forget `source`'s key; False if there was none. Raises StoreUnavailable."""
        sources = dict(self._doc(_KEYS).get("sources", {}))
        if sources.pop(source, None) is None:
            return False
        self._commit(_KEYS, {"sources": sources})
        return True

    # -- TOTP seeds -------------------------------------------------------------------

    def seeds(self) -> dict[str, TotpSeed]:
        result = {}
        for source, raw in self._doc(_TOTP).get("sources", {}).items():
            try:
                result[source] = TotpSeed(
                    str(raw["secret"]),
                    int(raw["digits"]),
                    int(raw["period"]),
                    str(raw["algorithm"]),
                )
            except (KeyError, TypeError, ValueError):
                log.warning("state totp: entry for %s is malformed; ignoring it", source)
        return result

    def put_seed(self, source: str, seed: TotpSeed) -> None:
        sources = dict(self._doc(_TOTP).get("sources", {}))
        sources[source] = {
            "secret": seed.secret,
            "digits": seed.digits,
            "period": seed.period,
            "algorithm": seed.algorithm,
        }
        self._commit(_TOTP, {"sources": sources})

    def remove_seed(self, source: str) -> bool:
        sources = dict(self._doc(_TOTP).get("sources", {}))
        if sources.pop(source, None) is None:
            return False
        self._commit(_TOTP, {"sources": sources})
        return True

    # -- sessions and role credentials ------------------------------------------------

    def load_cache(self) -> tuple[list[CachedSession], list[CachedRole]]:
        document = self._doc(_SESSIONS)
        sessions, roles = [], []
        for raw in document.get("sessions", []):
            try:
                sessions.append(_session(raw))
            except (KeyError, TypeError, ValueError):
                log.warning("state sessions: a session entry is malformed; ignoring it")
        for raw in document.get("roles", []):
            try:
                roles.append(_role(raw))
            except (KeyError, TypeError, ValueError):
                log.warning("state sessions: a role entry is malformed; ignoring it")
        return sessions, roles

    def save_cache(self, sessions: list[CachedSession], roles: list[CachedRole]) -> bool:
        """Keep sessions and role credentials; False (and a status warning) if not written.

        An empty cache removes the file: after `stsd lock` nothing is left on disk.
        """
        document = {
            "sessions": [_session_json(s) for s in sessions],
            "roles": [_role_json(r) for r in roles],
        }
        self._docs[_SESSIONS] = document
        try:
            if sessions or roles:
                self._store.write(_SESSIONS, document)
            else:
                self._store.remove(_SESSIONS)
        except StoreUnavailable:
            return False
        return True


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _time(text: Any) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError("naive time")
    return moment.astimezone(UTC)


def _credentials_json(c: Credentials) -> dict[str, Any]:
    return {
        "access_key_id": c.access_key_id,
        "secret_access_key": c.secret_access_key,
        "session_token": c.session_token,
        "expiration": _iso(c.expiration),
        "account_id": c.account_id,
    }


def _credentials(raw: dict[str, Any]) -> Credentials:
    expiration = _time(raw["expiration"])
    if expiration is None or not raw.get("session_token"):
        raise ValueError("temporary credentials need an expiration and a token")
    return Credentials(
        access_key_id=str(raw["access_key_id"]),
        secret_access_key=str(raw["secret_access_key"]),
        session_token=str(raw["session_token"]),
        expiration=expiration,
        account_id=raw.get("account_id"),
    )


def _session_json(cached: CachedSession) -> dict[str, Any]:
    s = cached.session
    return {
        "source": s.source,
        "mfa_serial": cached.mfa_serial,
        "user_arn": s.user_arn,
        "issued_at": _iso(s.issued_at),
        "credentials": _credentials_json(s.credentials),
    }


def _session(raw: dict[str, Any]) -> CachedSession:
    issued_at = _time(raw["issued_at"])
    if issued_at is None:
        raise ValueError("no issue time")
    return CachedSession(
        Session(
            source=str(raw["source"]),
            credentials=_credentials(raw["credentials"]),
            user_arn=str(raw["user_arn"]),
            issued_at=issued_at,
        ),
        str(raw["mfa_serial"]),
    )


def _role_json(cached: CachedRole) -> dict[str, Any]:
    r = cached.credentials
    return {
        "profile": r.profile,
        "role_arn": cached.role_arn,
        "assumed_role_arn": r.assumed_role_arn,
        "issued_at": _iso(r.issued_at),
        "last_used": _iso(cached.last_used),
        "credentials": _credentials_json(r.credentials),
    }


def _role(raw: dict[str, Any]) -> CachedRole:
    issued_at = _time(raw["issued_at"])
    if issued_at is None:
        raise ValueError("no issue time")
    return CachedRole(
        RoleCredentials(
            profile=str(raw["profile"]),
            credentials=_credentials(raw["credentials"]),
            assumed_role_arn=str(raw["assumed_role_arn"]),
            issued_at=issued_at,
        ),
        str(raw["role_arn"]),
        _time(raw.get("last_used")),
    )
