"""Cost to an SDK: boto3 resolving credentials through stsd vs from static env vars.

The static environment holds the very credentials stsd serves, so both sides resolve
the same thing; only the route differs (an HTTP request to the daemon vs reading three
variables). In-process, the cost of `Session().get_credentials()`; whole-process, a
boto3 script from exec to credentials in hand.
"""

import json
import subprocess
import sys
import time

from bench.model import Figure, Row
from bench.rig import Rig, pin
from bench.servers import REPO
from bench.stats import median, paired_ratio

__all__ = ["SCRIPT", "sdk_rows", "static_env"]

SECTION = "sdk"
BASELINE = "static env vars"
SCRIPT = (
    "import boto3; c = boto3.Session().get_credentials().get_frozen_credentials(); "
    "assert c.access_key and c.token"
)


def static_env(rig: Rig) -> dict[str, str]:
    """The sandbox's environment with the served credentials as plain variables."""
    _, body = rig.fetch()
    served = json.loads(body)
    env = dict(rig.sandbox.env)
    env.update(
        AWS_ACCESS_KEY_ID=served["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=served["SecretAccessKey"],
        AWS_SESSION_TOKEN=served["Token"],
        AWS_DEFAULT_REGION="eu-west-1",
    )
    return env


def sdk_rows(rig: Rig, rounds: int, calls: int, processes: int) -> list[Row]:
    envs = {"stsd": rig.shell_env(), BASELINE: static_env(rig)}
    return [_in_process(rig, envs, rounds, calls), _whole_process(rig, envs, processes)]


def _in_process(rig: Rig, envs: dict[str, dict[str, str]], rounds: int, calls: int) -> Row:
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.sdk_probe"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pin(child.pid, rig.cores.load)
    out, err = child.communicate(json.dumps({"envs": envs, "rounds": rounds, "calls": calls}))
    if child.returncode != 0:
        raise RuntimeError(f"sdk probe failed: {err.strip()}")
    result = json.loads(out)
    ours, theirs = result["ms"]["stsd"], result["ms"][BASELINE]
    return Row(
        SECTION,
        "boto3 Session().get_credentials(), in-process",
        Figure(median(ours), "ms", tuple(ours)),
        BASELINE,
        Figure(median(theirs), "ms", tuple(theirs)),
        paired_ratio(ours, theirs),
        "stsd/env",
        extra={"providers": result["methods"], "calls_per_round": calls},
    )


def _whole_process(rig: Rig, envs: dict[str, dict[str, str]], processes: int) -> Row:
    times: dict[str, list[float]] = {name: [] for name in envs}
    names = list(envs)
    for i in range(processes):
        for name in names if i % 2 == 0 else reversed(names):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", SCRIPT],
                env=envs[name],
                capture_output=True,
                text=True,
                check=False,
            )
            times[name].append((time.perf_counter() - start) * 1000)
            if done.returncode != 0:
                raise RuntimeError(f"boto3 script failed ({name}): {done.stderr.strip()}")
    ours, theirs = times["stsd"], times[BASELINE]
    return Row(
        SECTION,
        "boto3 script, exec to credentials",
        Figure(median(ours), "ms", tuple(ours)),
        BASELINE,
        Figure(median(theirs), "ms", tuple(theirs)),
        paired_ratio(ours, theirs),
        "stsd/env",
    )
