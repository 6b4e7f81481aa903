"""`stsd env` evaluated by bash, zsh and fish themselves, then undone with `--unset`.

Each shell starts with AWS_PROFILE pointing elsewhere (which would shadow stsd) and an
unrelated variable, evaluates the lines the way the README says, runs a boto3 process
that must be the role, evaluates `stsd env --unset`, and reports its environment. The
sandbox's home has a space, a quote and a `$` in its path, so every value the shells
see (token file, runtime dir) has to survive their quoting.
"""

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from compat_clients import ROLE_ARN, need, stsd_command
from harness import login

from stsd.client.demo import demo_aws_files
from stsd.client.env import SET_BY_ENV
from stsd.client.sandbox import Sandbox
from stsd.emulator.config import DEMO_CONFIG
from stsd.emulator.process import EmulatorProcess

_DUMP = """
import json, os
names = [n for n in os.environ if n.startswith("AWS_") or n == "BYSTANDER"]
print(json.dumps({n: os.environ[n] for n in names}))
"""
_WHOAMI = """
import boto3
print(boto3.Session().client("sts").get_caller_identity()["Arn"])
"""

# How each shell exports a variable and evaluates a command's output, as the README
# says to use `stsd env` there.
_EXPORT = {
    "bash": "export {name}={value}",
    "zsh": "export {name}={value}",
    "fish": "set -gx {name} {value}",
}
_EVAL = {
    "bash": 'eval "$({command})"',
    "zsh": 'eval "$({command})"',
    "fish": "{command} | source",
}


@pytest.fixture
def odd_sandbox(short_tmp: Path, emulator: EmulatorProcess) -> Iterator[Sandbox]:
    """A logged-in daemon whose files live under a path shells must quote."""
    box = Sandbox(short_tmp / "it's a $dir", sts_endpoint=emulator.url)
    box.write_aws_files(*demo_aws_files(DEMO_CONFIG))
    with box.start_daemon() as daemon:
        daemon.wait_ready()
        login(box, emulator)
        yield box


def _script(shell: str, tmp: Path, eval_form: str) -> str:
    (tmp / "dump.py").write_text(_DUMP)
    (tmp / "whoami.py").write_text(_WHOAMI)
    stsd = shlex.quote(str(stsd_command()))
    python = shlex.quote(sys.executable)
    lines = [
        _EXPORT[shell].format(name="AWS_PROFILE", value="bastion"),
        _EXPORT[shell].format(name="BYSTANDER", value="kept"),
        eval_form.format(command=f"{stsd} env readonly"),
        f"{python} {shlex.quote(str(tmp / 'dump.py'))}",
        f"{python} {shlex.quote(str(tmp / 'whoami.py'))}",
        eval_form.format(command=f"{stsd} env --unset"),
        f"{python} {shlex.quote(str(tmp / 'dump.py'))}",
    ]
    return "\n".join(lines) + "\n"


def _run_shell(shell: str, sandbox: Sandbox, script: str) -> list[str]:
    path = shutil.which(shell)
    need(Path(path or f"/usr/bin/{shell}"), shell)
    assert path is not None
    # $SHELL names the shell, so `stsd env` picks its syntax without --shell.
    env = {**sandbox.env, "SHELL": path}
    result = subprocess.run(
        [path, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


CASES = [
    ("bash", _EVAL["bash"]),
    ("zsh", _EVAL["zsh"]),
    ("fish", _EVAL["fish"]),
    ("fish", "eval ({command})"),
]


@pytest.mark.parametrize(("shell", "eval_form"), CASES, ids=["bash", "zsh", "fish", "fish-eval"])
def test_shell_sets_runs_as_the_role_and_unsets(
    shell: str, eval_form: str, odd_sandbox: Sandbox, short_tmp: Path
) -> None:
    """Set: the daemon's variables verbatim, AWS_PROFILE gone, a boto3 child is the role.
    Unset: every variable stsd set is gone, AWS_PROFILE stays gone, the rest is kept."""
    output = _run_shell(shell, odd_sandbox, _script(shell, short_tmp, eval_form))
    after_set, arn, after_unset = json.loads(output[0]), output[1], json.loads(output[2])
    expected = json.loads(odd_sandbox.stsd(["env", "readonly", "--json"]).stdout)["set"]
    assert {name: after_set.get(name) for name in expected} == expected
    assert "AWS_PROFILE" not in after_set
    assert after_set["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] == str(odd_sandbox.paths.token_file)
    assert arn == ROLE_ARN
    assert not set(SET_BY_ENV) & set(after_unset)
    assert "AWS_PROFILE" not in after_unset
    assert after_unset["BYSTANDER"] == "kept"
    assert after_unset["AWS_CONFIG_FILE"] == str(odd_sandbox.aws_config)


def test_unset_needs_no_profile_no_config_and_no_daemon(short_tmp: Path) -> None:
    """`stsd env --unset` in an empty home: the unset lines, no warning, no token file."""
    box = Sandbox(short_tmp)
    for shell in ("bash", "zsh", "fish"):
        result = box.stsd(["env", "--unset", "--shell", shell])
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        for name in SET_BY_ENV:
            assert name in result.stdout
    data = json.loads(box.stsd(["env", "--unset", "--json"]).stdout)
    assert data == {"set": {}, "unset": list(SET_BY_ENV)}
    assert not box.paths.token_file.exists()


def test_json_and_shell_lines_say_the_same(odd_sandbox: Sandbox) -> None:
    """`--json` carries exactly what the shell lines set and unset."""
    data = json.loads(odd_sandbox.stsd(["env", "readonly", "--json"]).stdout)
    bash = odd_sandbox.stsd(["env", "readonly", "--shell", "bash"]).stdout
    for name, value in data["set"].items():
        assert f"export {name}={shlex.quote(value)};" in bash
    assert f"unset {' '.join(data['unset'])};" in bash
