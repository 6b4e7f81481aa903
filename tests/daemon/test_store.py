"""The encrypted store: format, modes, atomicity, and every kind of bad state."""

import base64
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from stsd.daemon.errors import StoreUnavailable
from stsd.daemon.masterkey import KEY_FILE_NAME, load_master_key
from stsd.daemon.store import FORMAT_VERSION, MAGIC, Store

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC = {"secret": SECRET, "n": 1}


def store_in(directory: Path, key: bytes | None = None) -> Store:
    return Store(directory, key if key is not None else b"k" * 32, key_where="test")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip_with_private_modes(tmp_path: Path) -> None:
    """A document reads back as written; dir 0700, file 0600, no secret in the bytes."""
    directory = tmp_path / "state" / "stsd"
    store = store_in(directory)
    store.write("sessions", DOC)
    assert store.read("sessions") == DOC
    assert mode(directory) == 0o700
    assert mode(store.path("sessions")) == 0o600
    blob = store.path("sessions").read_bytes()
    assert SECRET.encode() not in blob
    assert base64.b64encode(SECRET.encode()) not in blob
    assert blob[:4] == MAGIC and blob[4] == FORMAT_VERSION
    assert [p.name for p in directory.iterdir()] == ["sessions.enc"]  # no temp file left


def test_every_write_uses_a_fresh_nonce(tmp_path: Path) -> None:
    """The same document written twice gives different bytes (nonce and ciphertext)."""
    store = store_in(tmp_path)
    store.write("d", DOC)
    first = store.path("d").read_bytes()
    store.write("d", DOC)
    second = store.path("d").read_bytes()
    assert first[13:25] != second[13:25]
    assert first[25:] != second[25:]


def flip(blob: bytes, offset: int) -> bytes:
    return blob[:offset] + bytes([blob[offset] ^ 0x01]) + blob[offset + 1 :]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b[: len(b) // 2], "failed authentication"),
        (lambda b: b[:10], "truncated"),
        (lambda b: flip(b, len(b) - 20), "tampered"),
        (lambda b: flip(b, 15), "tampered"),  # the nonce: authenticated as header
        (lambda b: b[:4] + bytes([FORMAT_VERSION + 1]) + b[5:], "format version 2"),
        (lambda b: flip(b, 6), "another master key"),
        (lambda b: b"", "not a stsd state file"),
    ],
    ids=["half", "truncated", "ciphertext", "nonce", "unknown-version", "key-id", "empty"],
)
def test_a_bad_file_is_moved_aside_and_reads_as_empty(
    tmp_path: Path, damage: Callable[[bytes], bytes], reason: str
) -> None:
    """Bad state never stops anything: logged, kept as NAME.bad-*, treated as no cache."""
    store = store_in(tmp_path)
    store.write("sessions", DOC)
    bad = damage(store.path("sessions").read_bytes())
    store.path("sessions").write_bytes(bad)
    assert store.read("sessions") == {}
    aside = list(tmp_path.glob("sessions.enc.bad-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == bad  # moved, not deleted
    assert not store.path("sessions").exists()
    assert any(reason in p for p in store.problems())
    store.write("sessions", DOC)  # and the store goes on
    assert store.read("sessions") == DOC


def test_a_file_renamed_to_another_document_does_not_decrypt(tmp_path: Path) -> None:
    """The document's name is associated data: keys.enc copied to sessions.enc fails."""
    store = store_in(tmp_path)
    store.write("keys", DOC)
    store.path("sessions").write_bytes(store.path("keys").read_bytes())
    assert store.read("sessions") == {}
    assert store.read("keys") == DOC


def test_wrong_key_moves_files_aside(tmp_path: Path) -> None:
    store_in(tmp_path, b"a" * 32).write("keys", DOC)
    other = store_in(tmp_path, b"b" * 32)
    assert other.read("keys") == {}
    assert list(tmp_path.glob("keys.enc.bad-*"))
    assert "another master key" in other.problems()[0]


def test_no_key_means_memory_only(tmp_path: Path) -> None:
    """Without a master key nothing is read or written; the reason shows in problems."""
    store_in(tmp_path).write("keys", DOC)
    keyless = Store(tmp_path, None, "the keyring failed")
    assert keyless.read("keys") == {}
    with pytest.raises(StoreUnavailable):
        keyless.write("keys", DOC)
    assert keyless.problems() == ["the keyring failed"]
    assert (tmp_path / "keys.enc").exists()  # not touched


def test_unwritable_directory_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    """A state path that can't be created: StoreUnavailable with the reason, cleared later."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = store_in(blocker / "stsd")
    with pytest.raises(StoreUnavailable) as raised:
        store.write("sessions", DOC)
    assert "working from memory" in raised.value.message
    assert any("can't write state" in p for p in store.problems())
    assert SECRET not in " ".join(store.problems())


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    first = load_master_key(tmp_path, "file")
    second = load_master_key(tmp_path, "file")
    assert first.key is not None and first.key == second.key and len(first.key) == 32
    assert first.kind == "file" and str(tmp_path / KEY_FILE_NAME) in first.where
    assert mode(tmp_path / KEY_FILE_NAME) == 0o600


def test_key_file_open_to_others_is_refused(tmp_path: Path) -> None:
    """A key file others could read is not trusted: memory only, and status says why."""
    load_master_key(tmp_path, "file")
    os.chmod(tmp_path / KEY_FILE_NAME, 0o644)
    refused = load_master_key(tmp_path, "file")
    assert refused.key is None
    assert refused.problem is not None and "mode 644" in refused.problem


def test_malformed_key_file_is_kept_not_replaced(tmp_path: Path) -> None:
    """Replacing a broken key file would orphan every state file: refuse instead."""
    (tmp_path / KEY_FILE_NAME).write_text("nonsense")
    os.chmod(tmp_path / KEY_FILE_NAME, 0o600)
    refused = load_master_key(tmp_path, "auto")
    assert refused.key is None and refused.problem and "malformed" in refused.problem
    assert (tmp_path / KEY_FILE_NAME).read_text() == "nonsense"


def test_auto_without_a_keyring_falls_back_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    import keyring.core

    keyring.core.init_backend()
    assert load_master_key(tmp_path, "auto").kind == "file"
    explicit = load_master_key(tmp_path / "other", "keyring")
    assert explicit.key is None and explicit.problem and "no keyring backend" in explicit.problem


def test_auto_never_trades_a_missing_keyring_for_a_new_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """State without a key file was encrypted with a keyring key: with the keyring down,
    work from memory rather than make a new key that orphans the state."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    import keyring.core

    keyring.core.init_backend()
    store_in(tmp_path).write("keys", DOC)
    master = load_master_key(tmp_path, "auto")
    assert master.key is None and master.problem and "OS keyring" in master.problem
    assert not (tmp_path / KEY_FILE_NAME).exists()
