"""Soak: several client processes fetch continuously through several refresh cycles.

The emulator issues role credentials that live 8 s; the daemon's refresh numbers are
scaled to match (trigger 5 s, floor 3 s), so a cycle takes about 3 s instead of 30 min.
Three raw fetchers (one for a chained profile) and a real boto3 process calling STS run
until every role has been re-assumed at least three times. Then: zero errors, zero
credentials served below the floor, and exactly one AssumeRole per credential set the
clients saw (no call wasted, none missed), each made no earlier than the trigger.
"""

import json
import subprocess
import sys
from pathlib import Path

from harness import env_for, login
from refresh_support import (
    Fetched,
    assume_role_arns,
    epoch_z,
    fetch_now,
    refresh_toml,
    scaled_daemon,
    wait_for,
)

from stsd.client.sandbox import Sandbox
from stsd.emulator.process import EmulatorProcess

LIFETIME, TRIGGER, FLOOR, HARD_FLOOR = 8, 5, 3, 1
ROLES = {
    "readonly": "arn:aws:iam::222222222222:role/ReadOnly",
    "deploy": "arn:aws:iam::333333333333:role/path/Deploy",  # chained from readonly
}
CYCLES = 3

# Fetch like an SDK's container provider, as fast as it goes, until the stop file exists;
# one line per fetch (no secrets) into a file: a pipe nobody reads would stall it.
FETCHER = r"""
import json, os, sys, time, urllib.error, urllib.request
stop, url, token = sys.argv[1:4]
request = urllib.request.Request(url, headers={"Authorization": token})
while not os.path.exists(stop):
    sent = time.time()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
            kept = {k: body[k] for k in ("AccessKeyId", "Expiration")}
            print(json.dumps([sent, response.status, kept]), flush=True)
    except urllib.error.HTTPError as error:
        print(json.dumps([sent, error.code, json.load(error)]), flush=True)
    time.sleep(0.02)
"""

# A real SDK: boto3 with the container provider, using what it gets against STS.
SDK = r"""
import os, sys, time
import boto3
stop = sys.argv[1]
client = boto3.Session().client("sts")
calls = 0
while not os.path.exists(stop):
    client.get_caller_identity()
    calls += 1
    time.sleep(0.1)
print(calls)
"""


def test_soak_three_refresh_cycles_no_error_no_waste(
    sandbox: Sandbox, emulator: EmulatorProcess, short_tmp: Path
) -> None:
    """Zero errors, nothing below the floor, one AssumeRole per credential set served."""
    emulator.control.set_faults(credential_lifetime_seconds=LIFETIME, actions=["AssumeRole"])
    toml = refresh_toml(floor=FLOOR, trigger=TRIGGER, hard_floor=HARD_FLOOR)
    stop = short_tmp / "stop"
    with scaled_daemon(sandbox, toml) as daemon:
        login(sandbox, emulator)
        targets = ["readonly", "readonly", "deploy"]
        records = [short_tmp / f"fetches-{i}.jsonl" for i in range(len(targets))]
        fetchers = []
        for name, record in zip(targets, records, strict=True):
            with record.open("w") as sink:
                fetchers.append(
                    subprocess.Popen(
                        [sys.executable, "-c", FETCHER, str(stop), daemon.url(name), daemon.token],
                        stdout=sink,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
        sdk = subprocess.Popen(
            [sys.executable, "-c", SDK, str(stop)],
            env=env_for(sandbox, "readonly"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def cycles_done() -> bool:
                arns = assume_role_arns(emulator.control.requests())
                return all(arns.count(arn) >= 1 + CYCLES for arn in ROLES.values())

            wait_for(cycles_done, timeout=40, every=0.25)
        finally:
            stop.touch()
        outputs = [proc.communicate(timeout=30) for proc in fetchers]
        sdk_out, sdk_err = sdk.communicate(timeout=30)
        # The last credential set of each role, in case it came after a fetcher's last look.
        final = {name: fetch_now(daemon.url(name), daemon.token) for name in ROLES}
        calls = emulator.control.calls()
        arns = assume_role_arns(emulator.control.requests())
        logs = daemon.logs()

    assert sdk.returncode == 0, sdk_err
    sdk_calls = int(sdk_out.strip())
    assert sdk_calls > 0
    seen: dict[str, list[Fetched]] = {name: [final[name]] for name in ROLES}
    for name, proc, (_, err), record in zip(targets, fetchers, outputs, records, strict=True):
        assert proc.returncode == 0, err
        for line in record.read_text().splitlines():
            sent, status, body = json.loads(line)
            seen[name].append(Fetched(sent, status, body))

    for name, fetched in seen.items():
        errors = [f for f in fetched if f.status != 200]
        assert errors == [], f"{name}: {errors[:3]}"
        below = [f.left for f in fetched if f.left < FLOOR]
        assert below == [], f"{name}: served with {below[:3]} s left (floor {FLOOR} s)"
        expirations = sorted({epoch_z(f.body["Expiration"]) for f in fetched})
        keys = {f.key for f in fetched}
        # Exactly one AssumeRole per credential set, and at least CYCLES refreshes.
        assert arns.count(ROLES[name]) == len(keys) == len(expirations) >= 1 + CYCLES
        # Each refresh came once the previous set had reached the trigger, not before.
        gaps = [b - a for a, b in zip(expirations, expirations[1:], strict=False)]
        assert min(gaps) >= LIFETIME - TRIGGER, gaps

    assert calls["AssumeRole"] == len(arns)
    assert calls["GetSessionToken"] == 1
    assert calls["GetCallerIdentity"] == 1 + sdk_calls  # the login's, then the SDK's
    assert "Traceback" not in logs
