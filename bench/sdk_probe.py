"""Child process of the SDK benchmark: times boto3's credential resolution in-process.

Reads {"envs": {name: environment}, "rounds": n, "calls": k} on stdin; in each round it
switches os.environ to each environment in turn (alternating the order) and times k
calls of `boto3.Session().get_credentials()`, where botocore walks its provider chain
and, for the container provider, makes the HTTP request. Prints JSON: per environment,
the median time of one call in each round, and the provider botocore used.
"""

import json
import os
import statistics
import sys
import time

import boto3

__all__: list[str] = []


def main() -> int:
    plan = json.load(sys.stdin)
    envs: dict[str, dict[str, str]] = plan["envs"]
    rounds, calls = int(plan["rounds"]), int(plan["calls"])
    names = list(envs)
    methods: dict[str, str] = {}
    per_round: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm-up: botocore loads its data files once per process
        _use(envs[name])
        for _ in range(3):
            boto3.Session().get_credentials()
    for i in range(rounds):
        for name in names if i % 2 == 0 else reversed(names):
            _use(envs[name])
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                credentials = boto3.Session().get_credentials()
                times.append(time.perf_counter() - start)
            if credentials is None:
                raise SystemExit(f"{name}: boto3 found no credentials")
            methods[name] = credentials.method
            per_round[name].append(statistics.median(times) * 1000)
    json.dump({"ms": per_round, "methods": methods}, sys.stdout)
    return 0


def _use(env: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(env)


if __name__ == "__main__":
    raise SystemExit(main())
