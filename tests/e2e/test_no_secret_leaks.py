"""After a full run at debug level (logins good and bad, SDK processes through `env` and
`exec`, refusals, a token rotation, logout), no secret is in the daemon's log, the
audit log, `stsd status --json` or any CLI message."""

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ALICE, CALLER_ARN, caller_arn, env_for, fetch

from stsd.client.demo import demo_aws_files
from stsd.client.sandbox import Sandbox
from stsd.emulator.config import DEMO_CONFIG
from stsd.emulator.embedded import EmbeddedEmulator


@pytest.fixture
def embedded() -> Iterator[EmbeddedEmulator]:
    """In-process, so the test can read every secret STS issued to the daemon."""
    with EmbeddedEmulator(DEMO_CONFIG) as emulator:
        yield emulator


@pytest.fixture
def box(short_tmp: Path, embedded: EmbeddedEmulator) -> Sandbox:
    sandbox = Sandbox(short_tmp, sts_endpoint=embedded.url)
    sandbox.write_aws_files(*demo_aws_files(DEMO_CONFIG))
    return sandbox


def leaked(secret: str, text: str) -> bool:
    if secret.isdigit():  # an MFA code: only a whole number counts, not part of a pid
        return re.search(rf"(?<!\d){secret}(?!\d)", text) is not None
    return secret in text


def test_no_secret_anywhere_after_a_full_run(box: Sandbox, embedded: EmbeddedEmulator) -> None:
    shown: list[str] = []  # everything a user or a log reader gets to see

    def stsd(*args: str) -> str:
        result = box.stsd(list(args))
        shown.extend([result.stdout, result.stderr])
        return result.stdout

    secrets = [ALICE.secret_access_key, ALICE.totp_seed]
    with box.start_daemon(["--listen", "127.0.0.1:0", "--log-level", "debug"]) as daemon:
        daemon.wait_ready()
        tokens = [daemon.token]
        good = embedded.control.code(ALICE.name)
        bad = f"{(int(good) + 500000) % 1000000:06d}"
        secrets += [good, bad]
        stsd("login", "--code", bad)
        stsd("login", "--code", good)
        role = "arn:aws:sts::222222222222:assumed-role/ReadOnly/alice"
        assert caller_arn(env_for(box, "readonly")) == role
        exec_run = box.stsd(["exec", "deploy", "--", sys.executable, "-c", CALLER_ARN])
        assert exec_run.stdout.strip().endswith("assumed-role/Deploy/alice"), exec_run.stderr
        shown.append(exec_run.stderr)
        creds = fetch(daemon.url("readonly"), daemon.token).body
        assert "SecretAccessKey" in creds
        fetch(daemon.url("readonly"), daemon.token, {"Origin": "https://evil.example"})
        fetch(daemon.url("readonly"), daemon.token + "x")
        stsd("token", "rotate")
        tokens.append(daemon.token)
        assert fetch(daemon.url("poweruser"), daemon.token).status == 200
        status = stsd("status", "--json")
        json.loads(status)
        stsd("status")
        stsd("logout")
        again = embedded.control.code(ALICE.name)
        secrets.append(again)
        stsd("login", "--code", again)
        stsd("status", "--json")
    audit = "".join(p.read_text() for p in box.paths.state_dir.glob("audit.log*"))
    assert '"status": 200' in audit and "exec: " in audit  # the audit log did record
    logs = daemon.logs()
    assert "assumed" in logs and "DEBUG" in logs  # the log did speak, at debug level

    issued = embedded.issued()
    assert {c.kind for c in issued} == {"session", "role"}
    secrets += tokens
    secrets += [c.secret_access_key for c in issued] + [c.session_token for c in issued]
    secrets += [creds["SecretAccessKey"], creds["Token"]]
    secrets.append(ALICE.access_key_id)  # key ids are shown masked (last four) or not at all
    for name, text in (("daemon log", logs), ("audit log", audit), ("CLI", "\n".join(shown))):
        for secret in secrets:
            assert not leaked(secret, text), f"a secret in the {name}"
