"""CLI wall time: `stsd env` and `stsd credential-process` against the AWS CLI.

The AWS CLI resolves the same credentials as an SDK in that shell would: the shell's
environment points at stsd (`stsd env`), and `aws configure export-credentials` (v2)
or `aws configure list` (v1, which has no export) walks the provider chain to the
daemon. Each CLI found on the machine is a baseline of its own; commands alternate in
rotating order, round after round.

All of them run from bytecode, as installed: pip and Debian compile a package's modules
when they install it, but an editable install writes bytecode only as it runs, and not
at all where PYTHONDONTWRITEBYTECODE is set (it is on our development machines). stsd
would then compile its own modules on every run, ~10 ms that no installed copy pays, so
its bytecode is compiled here first.
"""

import compileall
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.model import Figure, Row, missing
from bench.rig import PROFILE, Rig
from bench.stats import median, paired_ratio
from stsd import client

__all__ = ["AwsCli", "aws_clis", "cli_rows"]

SECTION = "cli"


@dataclass(frozen=True, slots=True)
class AwsCli:
    path: str
    version: str  # e.g. "2.9.19"

    @property
    def name(self) -> str:
        how = "configure export-credentials" if self.major >= 2 else "configure list"
        return f"aws {self.version} {how}"

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])

    def command(self) -> list[str]:
        if self.major >= 2:
            return [self.path, "configure", "export-credentials", "--format", "process"]
        return [self.path, "configure", "list"]


def aws_clis(env: dict[str, str]) -> list[AwsCli]:
    """Debian's v2 and the virtualenv's v1 (scripts/setup installs both), else PATH's."""
    candidates = ["/usr/bin/aws", str(Path(sys.executable).with_name("aws"))]
    if not any(os.access(c, os.X_OK) for c in candidates):
        candidates.append(shutil.which("aws", path=env.get("PATH")) or "")
    found: dict[str, AwsCli] = {}
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        done = subprocess.run(
            [candidate, "--version"], env=env, capture_output=True, text=True, check=False
        )
        words = (done.stdout + done.stderr).split()
        if done.returncode != 0 or not words or not words[0].startswith("aws-cli/"):
            continue  # e.g. a pyenv shim with no awscli behind it
        version = words[0].removeprefix("aws-cli/")
        found.setdefault(version, AwsCli(candidate, version))
    return sorted(found.values(), key=lambda cli: -cli.major)


def cli_rows(rig: Rig, rounds: int) -> list[Row]:
    env = rig.shell_env()
    stsd = rig.stsd_command()
    for directory in client.__path__:
        compileall.compile_dir(directory, quiet=1)
    ours = {
        "stsd env": [*stsd, "env", PROFILE],
        "stsd credential-process": [*stsd, "credential-process", PROFILE],
    }
    rows: list[Row] = []
    probe = _run(ours["stsd credential-process"], env)
    if probe.returncode != 0:
        rows.append(
            missing(SECTION, "stsd credential-process", "needs `stsd credential-process` (issue 9)")
        )
        del ours["stsd credential-process"]
    clis = aws_clis(env)
    if not clis:
        return [*rows, missing(SECTION, "AWS CLI baseline", "needs the AWS CLI (awscli)")]
    commands = dict(ours)
    for cli in clis:
        commands[cli.name] = cli.command()
    times, outputs = _interleaved(commands, env, rounds)
    served = json.loads(rig.fetch()[1])
    for cli in clis:
        _check_resolved(cli, outputs[cli.name], served["AccessKeyId"])
    for name in ours:
        for cli in clis:
            ratio = paired_ratio(times[cli.name], times[name])
            rows.append(
                Row(
                    SECTION,
                    f"{name} wall time",
                    Figure(median(times[name]), "ms", tuple(times[name])),
                    cli.name,
                    Figure(median(times[cli.name]), "ms", tuple(times[cli.name])),
                    ratio,
                    "aws/stsd",
                    ">= 10x",
                    ratio >= 10,
                )
            )
    return rows


def _check_resolved(cli: AwsCli, output: str, access_key_id: str) -> None:
    """The baseline must really have fetched stsd's credentials, not failed fast."""
    ok = access_key_id in output if cli.major >= 2 else "container-role" in output
    if not ok:
        raise RuntimeError(f"{cli.name} did not resolve stsd's credentials: {output[:300]!r}")


def _interleaved(
    commands: dict[str, list[str]], env: dict[str, str], rounds: int
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Wall times in ms per command, and each command's last stdout."""
    names = list(commands)
    times: dict[str, list[float]] = {name: [] for name in names}
    outputs: dict[str, str] = {}
    for i in range(rounds):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            done = _run(commands[name], env)
            times[name].append((time.perf_counter() - start) * 1000)
            if done.returncode != 0:
                raise RuntimeError(f"{name} failed: {done.stderr.strip()}")
            outputs[name] = done.stdout
    return times, outputs


def _run(command: list[str], env: dict[str, str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        command, env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
