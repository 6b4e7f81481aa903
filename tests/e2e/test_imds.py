"""IMDSv2 for tools that speak only instance metadata: off by default, v2 only, own uid."""

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from harness import caller_arn, env_for, login

from stsd.client.sandbox import DaemonProcess, Sandbox
from stsd.daemon.imds import ImdsTokens
from stsd.emulator.process import EmulatorProcess

_TTL = "X-aws-ec2-metadata-token-ttl-seconds"
_TOKEN = "X-aws-ec2-metadata-token"
_CREDS = "/latest/meta-data/iam/security-credentials/"


@pytest.fixture
def imds_daemon(sandbox: Sandbox) -> Iterator[DaemonProcess]:
    sandbox.write_settings('[imds]\nprofile = "readonly"\n')
    with sandbox.start_daemon() as process:
        process.wait_ready()
        yield process


def _call(
    daemon: DaemonProcess, method: str, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"http://{daemon.address}{path}", method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read().decode()


def _token(daemon: DaemonProcess, ttl: str = "60") -> str:
    status, headers, body = _call(daemon, "PUT", "/latest/api/token", {_TTL: ttl})
    assert status == 200
    assert headers[_TTL] == ttl  # echoed: the Go and Rust SDKs need it
    return body


def test_boto3_gets_the_role_through_imdsv2(
    sandbox: Sandbox, emulator: EmulatorProcess, imds_daemon: DaemonProcess
) -> None:
    """With only `stsd env --imds` lines (no container URI), boto3 ends as the role."""
    login(sandbox, emulator)
    result = sandbox.stsd(["env", "readonly", "--imds", "--json"])
    lines = json.loads(result.stdout)
    assert lines["set"]["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == f"http://{imds_daemon.address}/"
    assert "127.0.0.1" in lines["set"]["NO_PROXY"].split(",")
    env = env_for(sandbox, "readonly")
    for name in [n for n in env if n.startswith("AWS_CONTAINER_")]:
        del env[name]
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = lines["set"]["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
    assert caller_arn(env) == "arn:aws:sts::222222222222:assumed-role/ReadOnly/alice"


def test_role_name_and_credentials_documents(
    sandbox: Sandbox, emulator: EmulatorProcess, imds_daemon: DaemonProcess
) -> None:
    login(sandbox, emulator)
    token = _token(imds_daemon)
    status, _, role = _call(imds_daemon, "GET", _CREDS, {_TOKEN: token})
    assert (status, role) == (200, "ReadOnly")  # no trailing newline
    status, headers, body = _call(imds_daemon, "GET", _CREDS + "ReadOnly", {_TOKEN: token})
    document = json.loads(body)
    assert status == 200
    assert document["Code"] == "Success" and document["Type"] == "AWS-HMAC"
    assert {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "LastUpdated"} <= set(document)
    assert _call(imds_daemon, "GET", _CREDS + "Other", {_TOKEN: token})[0] == 404


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", _CREDS, {}, 401),  # IMDSv1: no token
        ("GET", _CREDS, {_TOKEN: "made-up"}, 401),
        ("PUT", "/latest/api/token", {}, 400),
        ("PUT", "/latest/api/token", {_TTL: "0"}, 400),
        ("PUT", "/latest/api/token", {_TTL: "21601"}, 400),
        ("PUT", "/latest/api/token", {_TTL: "abc"}, 400),
        ("PUT", "/latest/api/token", {_TTL: "60", "X-Forwarded-For": "1.2.3.4"}, 403),
    ],
)
def test_refusals(
    imds_daemon: DaemonProcess, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    assert _call(imds_daemon, method, path, headers)[0] == status


def test_imds_is_off_by_default(daemon: DaemonProcess) -> None:
    assert _call(daemon, "PUT", "/latest/api/token", {_TTL: "60"})[0] in {404, 405}


def test_tokens_expire_after_their_ttl() -> None:
    now = [100.0]
    tokens = ImdsTokens(monotonic=lambda: now[0])
    token = tokens.issue(5)
    assert tokens.valid(token)
    now[0] += 5
    assert not tokens.valid(token)
    assert not tokens.valid(None) and not tokens.valid("")


def test_a_client_under_another_uid_is_refused(imds_daemon: DaemonProcess) -> None:
    """Linux: only the daemon's own uid may use IMDS (its clients carry no secret)."""
    system_python = "/usr/bin/python3"  # the pyenv Python's home is 0700 to others
    if os.getuid() != 0 or not shutil.which("setpriv") or not os.path.exists(system_python):
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs as root with setpriv and Debian's python3")
        pytest.skip("needs root, setpriv and /usr/bin/python3")
    probe = (
        "import urllib.request, urllib.error\n"
        f"r = urllib.request.Request('http://{imds_daemon.address}/latest/api/token', "
        f"method='PUT', headers={{'{_TTL}': '60'}})\n"
        "try:\n    print(urllib.request.urlopen(r).status)\n"
        "except urllib.error.HTTPError as e:\n    print(e.code)\n"
    )
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", system_python, "-c", probe],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd="/",
    )
    assert result.stdout.strip() == "403", result.stderr
    assert _token(imds_daemon)  # our own uid still gets in
