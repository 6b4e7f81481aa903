"""The credentials endpoint's 200 body, encoded once per credential set.

A credential set is served thousands of times between refreshes and its JSON never
changes, so formatting the expiry and encoding the JSON on every request is waste
(it was an eighth of the request path's time). One entry per profile; an entry is
used only for the very credential set it was made from (identity, not equality), and
is dropped when that set is garbage (`stsd lock`, a refresh): the cache never keeps
secrets alive longer than the broker does.
"""

import json
import weakref
from collections.abc import Callable

from stsd.daemon.model import RoleCredentials

__all__ = ["EncodedBodies"]


class EncodedBodies:
    def __init__(self, encode: Callable[[RoleCredentials], dict[str, str]]) -> None:
        self._encode = encode
        self._cache: dict[str, tuple[weakref.ref[RoleCredentials], bytes]] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def body(self, creds: RoleCredentials) -> bytes:
        """The JSON bytes for `creds`, made on the first request for this set only."""
        entry = self._cache.get(creds.profile)
        if entry is not None and entry[0]() is creds:
            return entry[1]
        body = json.dumps(self._encode(creds)).encode()
        profile = creds.profile
        self._cache[profile] = (weakref.ref(creds, lambda ref: self._forget(profile, ref)), body)
        return body

    def _forget(self, profile: str, ref: "weakref.ref[RoleCredentials]") -> None:
        entry = self._cache.get(profile)
        if entry is not None and entry[0] is ref:  # not a newer set's entry
            del self._cache[profile]
