"""The whole flow with real processes: emulator, `stsd serve`, the CLI, boto3 clients."""

import json
import time

from harness import ALICE, caller_arn, env_for, fetch, login, run_python

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.emulator.process import EmulatorProcess


def test_one_code_then_boto3_runs_as_the_role(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """After one `stsd login`, a boto3 process using `stsd env` lines is the role."""
    login(sandbox, emulator)
    arn = caller_arn(env_for(sandbox, "readonly"))
    assert arn == "arn:aws:sts::222222222222:assumed-role/ReadOnly/alice"


def test_chained_role_profile(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """A role profile whose source_profile is a role profile is reached by chaining."""
    login(sandbox, emulator)
    arn = caller_arn(env_for(sandbox, "deploy"))
    assert arn == "arn:aws:sts::333333333333:assumed-role/Deploy/alice"


def test_before_any_code_the_endpoint_says_run_stsd_login(daemon: DaemonProcess) -> None:
    """No MFA session yet: 503 with DESIGN's JSON error naming `stsd login`."""
    reply = fetch(daemon.url("readonly"), daemon.token)
    assert reply.status == 503
    assert reply.content_type == "application/json"
    assert reply.body["code"] == reply.body["Code"] == "NeedsMfa"
    assert "stsd login bastion" in reply.body["message"]
    assert reply.body["message"] == reply.body["Message"]


def test_credentials_json_is_the_container_contract(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """200 with exactly the five fields; Expiration whole seconds in UTC with a Z."""
    login(sandbox, emulator)
    reply = fetch(daemon.url("readonly"), daemon.token)
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert set(reply.body) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "AccountId"}
    assert reply.body["AccountId"] == "222222222222"
    time.strptime(reply.body["Expiration"], "%Y-%m-%dT%H:%M:%SZ")


def test_missing_wrong_token_and_unknown_profile(daemon: DaemonProcess) -> None:
    """401 without a token, 403 with a wrong one, 404 for a profile not configured."""
    missing = fetch(daemon.url("readonly"))
    wrong = fetch(daemon.url("readonly"), "not-the-token")
    unknown = fetch(daemon.url("nope"), daemon.token)
    for reply, status in ((missing, 401), (wrong, 403), (unknown, 404)):
        assert reply.status == status
        assert reply.content_type == "application/json"
        assert set(reply.body) == {"code", "message", "Code", "Message"}
        assert "AccessKeyId" not in reply.body
    assert "readonly" in unknown.body["message"]  # lists what exists


def test_wrong_code_then_right_code_on_one_daemon(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """A rejected code says so and exits non-zero; the daemon keeps going."""
    good = emulator.control.code(ALICE.name)
    bad = f"{(int(good) + 500000) % 1000000:06d}"
    rejected = sandbox.stsd(["login", "--code", bad])
    assert rejected.returncode == 4
    assert "rejected" in rejected.stderr
    assert sandbox.stsd(["login", "--code", good]).returncode == 0
    assert fetch(daemon.url("readonly"), daemon.token).status == 200


def test_login_refuses_a_malformed_code_locally(daemon: DaemonProcess, sandbox: Sandbox) -> None:
    """Not 6 digits: refused before anything reaches the daemon or STS."""
    result = sandbox.stsd(["login", "--code", "12345"])
    assert result.returncode == 2
    assert "6 digits" in result.stderr


def test_a_request_is_never_held_past_the_deadline(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """STS slower than 0.8 s: the request gets a 503 now, the next one the credentials."""
    login(sandbox, emulator)
    emulator.control.set_faults(latency_ms=2000)
    started = time.monotonic()
    slow = fetch(daemon.url("readonly"), daemon.token)
    held = time.monotonic() - started
    assert slow.status == 503
    assert slow.body["code"] == "StsUnavailable"
    assert held < 1.9  # well under the emulator's 2 s: the daemon let go at its deadline
    emulator.control.set_faults(latency_ms=0)
    for _ in range(100):  # the flight that was started finishes in the background
        if fetch(daemon.url("readonly"), daemon.token).status == 200:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("credentials never arrived")
    assert emulator.control.calls()["AssumeRole"] == 1


def test_status_shows_sessions_and_roles_without_secrets(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """`stsd status --json` names the session and role expiries, never a key or token."""
    login(sandbox, emulator)
    creds = fetch(daemon.url("readonly"), daemon.token).body
    status = sandbox.stsd(["status", "--json"])
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["sources"][0]["user_arn"] == "arn:aws:iam::111111111111:user/alice"
    role = next(r for r in data["roles"] if r["profile"] == "readonly")
    assert role["expires"] == creds["Expiration"]
    human = sandbox.stsd(["status"]).stdout
    assert "readonly" in human and "session:" in human
    for secret in (creds["SecretAccessKey"], creds["Token"], ALICE.secret_access_key):
        assert secret not in status.stdout
        assert secret not in human


def test_logout_forgets_the_session(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """After `stsd logout` the endpoint asks for MFA again."""
    login(sandbox, emulator)
    assert fetch(daemon.url("readonly"), daemon.token).status == 200
    assert sandbox.stsd(["logout"]).returncode == 0
    reply = fetch(daemon.url("readonly"), daemon.token)
    assert reply.status == 503 and reply.body["code"] == "NeedsMfa"


def test_no_secret_reaches_the_logs(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """After a full run, the daemon's log holds no key, token or MFA code."""
    code = emulator.control.code(ALICE.name)
    assert sandbox.stsd(["login", "--code", code]).returncode == 0
    creds = fetch(daemon.url("readonly"), daemon.token).body
    assert caller_arn(env_for(sandbox, "deploy")).endswith("/Deploy/alice")
    daemon.stop()
    logs = daemon.logs()
    assert "assumed" in logs  # the log does speak of what happened
    secrets = [
        ALICE.secret_access_key,
        ALICE.totp_seed,
        code,
        daemon.token,
        creds["SecretAccessKey"],
        creds["Token"],
    ]
    for secret in secrets:
        assert secret not in logs


# Shells and SDKs run `stsd env PROFILE` and `stsd credential-process PROFILE` at every
# start: each of these standard modules would cost them milliseconds (docs/benchmarks.md,
# "The CLI"), and with a token, XDG_RUNTIME_DIR and no config.toml they need none.
_HOT_COMMANDS_AVOID = {
    "argparse",
    "dataclasses",
    "inspect",
    "typing",
    "tomllib",
    "secrets",
    "hashlib",
    "random",
    "tempfile",
    "shutil",
    "socket",
    "urllib.request",
    "http.client",
    "email",
    "ssl",
}
_LOADED_BY = """
import sys
before = set(sys.modules)
from stsd.client.main import main
code = main({argv!r})
print("LOADED", *sorted(set(sys.modules) - before), file=sys.stderr)
sys.exit(code)
"""


def _loaded_by(sandbox: Sandbox, argv: list[str]) -> tuple[int, set[str]]:
    """The exit code of `stsd ARGV` run as a process of its own, and what it imported."""
    result = run_python(sandbox.env, _LOADED_BY.format(argv=argv))
    lines = [line for line in result.stderr.splitlines() if line.startswith("LOADED ")]
    assert lines, result.stderr
    return result.returncode, set(lines[-1].split()[1:])


def test_client_commands_load_neither_boto3_nor_aiohttp(
    sandbox: Sandbox, emulator: EmulatorProcess, daemon: DaemonProcess
) -> None:
    """`env`, `credential-process`, `status` and `login` stay on the standard library
    (fast start); `env PROFILE` and `credential-process PROFILE` load none of its
    heavier modules either."""
    login(sandbox, emulator)
    runs = {
        argv[0]: _loaded_by(sandbox, argv)
        for argv in (
            ["env", "readonly"],
            ["credential-process", "readonly"],
            ["status"],
            ["login", "--code", "1"],
        )
    }
    for command, (_, modules) in runs.items():
        heavy = sorted(m for m in modules if m.split(".")[0] in {"boto3", "botocore", "aiohttp"})
        assert not heavy, command
    for command in ("env", "credential-process"):
        code, modules = runs[command]
        assert code == 0, command
        assert "stsd.client.paths" in modules  # the probe does see what the command imports
        assert sorted(modules & _HOT_COMMANDS_AVOID) == [], command
