"""The endpoint's encoded body: made once per credential set, never outliving it."""

import gc
import json
from datetime import UTC, datetime, timedelta

from stsd.daemon.bodies import EncodedBodies
from stsd.daemon.model import Credentials, RoleCredentials
from stsd.daemon.server import credentials_body

NOW = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)


def _creds(key: str, profile: str = "readonly") -> RoleCredentials:
    credentials = Credentials(
        key, "secret-" + key, "token-" + key, NOW + timedelta(hours=1), "2" * 12
    )
    return RoleCredentials(profile, credentials, "arn:aws:sts::222222222222:assumed-role/R/a", NOW)


def test_a_set_is_encoded_once_and_exactly_as_the_contract_says() -> None:
    calls: list[str] = []

    def encode(creds: RoleCredentials) -> dict[str, str]:
        calls.append(creds.profile)
        return credentials_body(creds)

    bodies = EncodedBodies(encode)
    creds = _creds("ASIAONE")
    first = bodies.body(creds)
    assert bodies.body(creds) is first
    assert calls == ["readonly"]
    assert json.loads(first) == {
        "AccessKeyId": "ASIAONE",
        "SecretAccessKey": "secret-ASIAONE",
        "Token": "token-ASIAONE",
        "Expiration": "2026-01-05T10:00:00Z",
        "AccountId": "222222222222",
    }


def test_a_new_set_is_encoded_even_when_equal_to_the_old_one() -> None:
    bodies = EncodedBodies(credentials_body)
    old, new = _creds("ASIAOLD"), _creds("ASIANEW")
    assert json.loads(bodies.body(old))["AccessKeyId"] == "ASIAOLD"
    assert json.loads(bodies.body(new))["AccessKeyId"] == "ASIANEW"
    twin = _creds("ASIANEW")  # equal, but another set: identity decides
    assert twin == new
    assert bodies.body(twin) is not bodies.body(new)


def test_entries_die_with_their_credentials() -> None:
    bodies = EncodedBodies(credentials_body)
    ro, admin = _creds("ASIARO"), _creds("ASIAADMIN", "admin")
    bodies.body(ro)
    bodies.body(admin)
    assert len(bodies) == 2
    del ro
    gc.collect()
    assert len(bodies) == 1
    replaced = _creds("ASIAADMIN2", "admin")
    bodies.body(replaced)
    del admin  # the replaced set dies after its successor's entry exists
    gc.collect()
    assert len(bodies) == 1
    assert json.loads(bodies.body(replaced))["AccessKeyId"] == "ASIAADMIN2"
