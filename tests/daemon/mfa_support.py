"""Shared by the in-process MFA tests: an emulator for the real STS client, and a
service with two source profiles of one MFA device."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from stsd.client.awsfiles import load_aws_files
from stsd.client.settings import Settings
from stsd.daemon.config import build_config
from stsd.daemon.service import CredentialService
from stsd.daemon.sts import Sts
from stsd.emulator.config import DEMO_CONFIG
from stsd.emulator.embedded import EmbeddedEmulator

ALICE = DEMO_CONFIG.users[0]
# Two source profiles with the same MFA device: alice's keys under two names.
AWS_CONFIG = f"""
[profile bastion]
mfa_serial = {ALICE.mfa_serial}
[profile bastion-b]
mfa_serial = {ALICE.mfa_serial}
[profile readonly]
role_arn = arn:aws:iam::222222222222:role/ReadOnly
source_profile = bastion
[profile poweruser]
role_arn = arn:aws:iam::222222222222:role/PowerUser
source_profile = bastion-b
"""
AWS_CREDENTIALS = f"""
[bastion]
aws_access_key_id = {ALICE.access_key_id}
aws_secret_access_key = {ALICE.secret_access_key}
[bastion-b]
aws_access_key_id = {ALICE.access_key_id}
aws_secret_access_key = {ALICE.secret_access_key}
"""


@contextlib.contextmanager
def sts_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedEmulator]:
    """The emulator on a thread, and the STS client pointed at it."""
    with EmbeddedEmulator(DEMO_CONFIG) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", running.url)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        yield running


def two_sources_one_device(root: Path) -> CredentialService:
    """A service for `bastion` (role readonly) and `bastion-b` (role poweruser)."""
    (root / "config").write_text(AWS_CONFIG, encoding="utf-8")
    (root / "credentials").write_text(AWS_CREDENTIALS, encoding="utf-8")
    files = load_aws_files(
        {
            "HOME": str(root),
            "AWS_CONFIG_FILE": str(root / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(root / "credentials"),
        }
    )
    return CredentialService(build_config(files, Settings()), Sts())
