"""`stsd keys` and `stsd mfa totp` end to end, and the search for any secret left in
plain text: real daemons, the STS/IAM emulator, boto3 processes."""

import base64
import os
import stat
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from harness import ALICE, caller_arn, env_for, fetch, kill_hard, login

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.daemon.masterkey import load_master_key
from stsd.daemon.store import Store
from stsd.emulator.process import EmulatorProcess

OTHER_SECRET = "otherToolSecret0000000000000000000000000"
# The common layout: the bastion user's keys in [default], and other tools' sections.
DEFAULT_CREDENTIALS = f"""\
# ~/.aws/credentials, kept by hand
[default]
aws_access_key_id = {ALICE.access_key_id}
aws_secret_access_key = {ALICE.secret_access_key}

# a profile of another tool: stsd must not touch it
[other-tool]
aws_access_key_id = AKIAOTHERTOOLKEY0001
aws_secret_access_key = {OTHER_SECRET}
region = eu-central-1 ; its region

[empty-one]
"""


def default_layout(sandbox: Sandbox) -> None:
    config = sandbox.aws_config.read_text().replace("[profile bastion]", "[default]")
    config = config.replace("source_profile = bastion", "source_profile = default")
    sandbox.write_aws_files(config, DEFAULT_CREDENTIALS)


def ok(sandbox: Sandbox, args: list[str], stdin: str = "") -> str:
    result = sandbox.stsd(args, stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def read_state(sandbox: Sandbox, name: str) -> dict[str, object]:
    """What a state file holds, decrypted with the key file: the test's own eyes."""
    state_dir = sandbox.paths.state_dir
    return Store(state_dir, load_master_key(state_dir, "file").key).read(name)


def test_keys_import_moves_default_out_of_the_file(
    sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    """Keys leave [default] (everything else stays byte for byte), `env` stops warning,
    and a restarted daemon logs in with the stored keys; boto3 then runs as the role."""
    default_layout(sandbox)
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        assert "[default]" in sandbox.stsd(["env", "readonly"]).stderr
        out = ok(sandbox, ["keys", "import", "default"])
        assert "…E001" in out and ALICE.access_key_id not in out
        assert sandbox.aws_credentials.read_text() == DEFAULT_CREDENTIALS.replace(
            f"aws_access_key_id = {ALICE.access_key_id}\n"
            f"aws_secret_access_key = {ALICE.secret_access_key}\n",
            "",
        )
        assert stat.S_IMODE(sandbox.aws_credentials.stat().st_mode) == 0o600
        assert "[default]" not in sandbox.stsd(["env", "readonly"]).stderr
        listing = ok(sandbox, ["keys", "list"])
        assert "default: …E001 in store" in listing
        assert ALICE.access_key_id not in listing
        doctor = sandbox.stsd(["doctor"]).stdout
        assert "FAIL" not in doctor  # config and keys are fine
        assert "plain text" not in doctor and "[default]" not in doctor
    with sandbox.start_daemon() as restarted:  # no keys in any file now
        restarted.wait_ready()
        login(sandbox, emulator, source="default")
        assert caller_arn(env_for(sandbox, "readonly")).endswith(":assumed-role/ReadOnly/alice")


def test_keys_import_refuses_what_it_cannot_do(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    """No keys under the section: a clear error, and the file is unchanged."""
    before = sandbox.aws_credentials.read_text()
    result = sandbox.stsd(["keys", "import", "nosuch"])
    assert result.returncode == 78 and "holds no keys under [nosuch]" in result.stderr
    assert sandbox.aws_credentials.read_text() == before
    result = sandbox.stsd(["keys", "rotate"])
    assert result.returncode == 78 and "stsd keys import bastion" in result.stderr


def test_keys_remove_falls_back_to_the_file(sandbox: Sandbox, daemon: DaemonProcess) -> None:
    ok(sandbox, ["keys", "import", "bastion"])
    out = ok(sandbox, ["keys", "remove", "bastion"])
    assert "it has none now" in out
    assert sandbox.stsd(["keys", "remove", "bastion"]).returncode == 78


def iam_keys(emulator: EmulatorProcess, key_id: str, secret: str) -> str:
    """Who `key_id` is to STS now, or the error code."""
    client = boto3.session.Session().client(
        "sts",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}),
    )
    try:
        return client.get_caller_identity()["Arn"]
    except ClientError as error:
        return str(error.response.get("Error", {}).get("Code"))


def test_keys_rotate_replaces_the_key_through_iam(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """New key created, verified, stored; the old one deleted; a restart logs in with it."""
    ok(sandbox, ["keys", "import", "bastion"])
    no_session = sandbox.stsd(["keys", "rotate", "bastion"])
    assert no_session.returncode == 3 and "stsd login bastion" in no_session.stderr
    login(sandbox, emulator)
    out = ok(sandbox, ["keys", "rotate", "bastion"])
    assert "…E001 deleted" in out
    stored = read_state(sandbox, "keys")["sources"]
    assert isinstance(stored, dict)
    new = stored["bastion"]
    assert new["access_key_id"] != ALICE.access_key_id
    assert iam_keys(emulator, ALICE.access_key_id, ALICE.secret_access_key) == (
        "InvalidClientTokenId"
    )
    assert iam_keys(emulator, new["access_key_id"], new["secret_access_key"]) == ALICE.arn
    calls = emulator.control.calls()
    assert (calls["CreateAccessKey"], calls["DeleteAccessKey"]) == (1, 1)
    ok(sandbox, ["logout"])
    daemon.stop()
    with sandbox.start_daemon() as restarted:
        restarted.wait_ready()
        login(sandbox, emulator)  # GetSessionToken with the new key
        assert fetch(restarted.url("readonly"), restarted.token).status == 200


def test_totp_seed_logs_in_and_is_stored_encrypted(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """`mfa totp add` checks the seed with a real login; wrong seeds store nothing."""
    wrong = sandbox.stsd(["mfa", "totp", "add"], stdin="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n")
    assert wrong.returncode == 4 and "Nothing was stored" in wrong.stderr
    garbage = sandbox.stsd(["mfa", "totp", "add"], stdin="my seed is 0189\n")
    assert garbage.returncode == 78 and "not base32" in garbage.stderr
    assert "TOTP" not in ok(sandbox, ["keys", "list"])
    uri = f"otpauth://totp/AWS:alice?secret={ALICE.totp_seed}&issuer=AWS"
    out = ok(sandbox, ["mfa", "totp", "add", "bastion"], stdin=uri)
    assert "second factor" in out and ALICE.totp_seed not in out
    assert fetch(daemon.url("readonly"), daemon.token).status == 200  # the seed logged in
    assert "TOTP seed stored" in ok(sandbox, ["keys", "list"])
    assert ok(sandbox, ["mfa", "totp", "remove"]).startswith("Removed the TOTP seed")
    assert "TOTP" not in ok(sandbox, ["keys", "list"])


def secret_forms(secret: str) -> list[bytes]:
    """A secret as it could leak: plain, or inside base64 (standard or urlsafe) at any of
    the three byte alignments (the middle of the encoding is stable whatever surrounds it)."""
    raw = secret.encode()
    forms = [raw]
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + raw)
            forms.append(encoded[4:-4])
    return [f for f in forms if len(f) >= 16]


def files_under(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        for directory, _, names in os.walk(root):
            found += [Path(directory) / name for name in names]
    return found


def test_no_secret_in_plain_text_after_a_full_run(
    sandbox: Sandbox, emulator: EmulatorProcess
) -> None:
    """After import, TOTP, login, roles, kill -9, restart and rotation: no long-term key,
    session token, role secret or TOTP seed in any file of the config, state or runtime
    dirs (or the AWS files, or the daemon's logs), plain or base64; modes are private."""
    default_layout(sandbox)
    sandbox.write_settings('default_profile = "readonly"\n')
    role_secrets: list[str] = []
    with sandbox.start_daemon() as daemon:
        daemon.wait_ready()
        ok(sandbox, ["keys", "import", "default"])
        ok(sandbox, ["mfa", "totp", "add", "default"], stdin=ALICE.totp_seed)
        for profile in ("readonly", "deploy"):
            body = fetch(daemon.url(profile), daemon.token).body
            role_secrets += [body["SecretAccessKey"], body["Token"]]
        assert caller_arn(env_for(sandbox, "poweruser")).endswith("/PowerUser/alice")
        sessions = read_state(sandbox, "sessions")["sessions"]
        assert isinstance(sessions, list)
        session_secrets = [
            sessions[0]["credentials"]["secret_access_key"],
            sessions[0]["credentials"]["session_token"],
        ]
        kill_hard(daemon)
    logs = daemon.logs()
    with sandbox.start_daemon() as restarted:
        restarted.wait_ready()
        assert fetch(restarted.url("readonly"), restarted.token).status == 200
        ok(sandbox, ["keys", "rotate", "default"])
        stored = read_state(sandbox, "keys")["sources"]
        assert isinstance(stored, dict)
        rotated_secret = stored["default"]["secret_access_key"]
        ok(sandbox, ["status"])
        restarted.stop()
    logs += restarted.logs()
    secrets = {
        "long-term secret key": ALICE.secret_access_key,
        "rotated secret key": rotated_secret,
        "session secret": session_secrets[0],
        "session token": session_secrets[1],
        "TOTP seed": ALICE.totp_seed,
    }
    secrets.update({f"role secret {i}": s for i, s in enumerate(role_secrets)})
    paths = sandbox.paths
    files = files_under(
        paths.config_dir, paths.state_dir, paths.runtime_dir, sandbox.aws_config.parent
    )
    assert any(f.name == "sessions.enc" for f in files) and any(f.name == "keys.enc" for f in files)
    for path in files:
        content = path.read_bytes()
        for what, secret in secrets.items():
            for form in secret_forms(secret):
                assert form not in content, f"{what} in {path}"
    for what, secret in secrets.items():
        for form in secret_forms(secret):
            assert form.decode() not in logs, f"{what} in the daemon's log"
    for directory in (paths.state_dir, paths.runtime_dir):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in files_under(paths.state_dir):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(paths.token_file.stat().st_mode) == 0o600
