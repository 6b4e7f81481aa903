"""Long-term access keys of the emulator's IAM users: the configured one, plus any that
IAM's CreateAccessKey adds, minus those DeleteAccessKey removes.

Invariants: a user holds at most two keys (IAM's limit); a deleted key never signs a
request again; key ids are unique across users.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from stsd.emulator.config import User

__all__ = ["MAX_KEYS_PER_USER", "AccessKey", "AccessKeys"]

MAX_KEYS_PER_USER = 2
_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True, slots=True)
class AccessKey:
    user: User
    access_key_id: str
    secret_access_key: str = field(repr=False)
    created: datetime


class AccessKeys:
    """Which key belongs to whom, as IAM would answer it right now."""

    def __init__(self, users: Iterable[User], clock: Callable[[], datetime]) -> None:
        self._clock = clock
        now = clock()
        self._keys: dict[str, AccessKey] = {
            u.access_key_id: AccessKey(u, u.access_key_id, u.secret_access_key, now) for u in users
        }

    def lookup(self, access_key_id: str) -> AccessKey | None:
        return self._keys.get(access_key_id)

    def of(self, user: User) -> list[AccessKey]:
        return sorted(
            (k for k in self._keys.values() if k.user.name == user.name), key=lambda k: k.created
        )

    def create(self, user: User) -> AccessKey | None:
        """A new key for `user`, or None when they already hold the maximum."""
        if len(self.of(user)) >= MAX_KEYS_PER_USER:
            return None
        while True:
            key_id = "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
            if key_id not in self._keys:
                break
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
        key = AccessKey(user, key_id, secret, self._clock())
        self._keys[key_id] = key
        return key

    def delete(self, user: User, access_key_id: str) -> bool:
        """Delete `user`'s key; False if `user` has no such key."""
        key = self._keys.get(access_key_id)
        if key is None or key.user.name != user.name:
            return False
        del self._keys[access_key_id]
        return True
