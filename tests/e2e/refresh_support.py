"""Helpers for the refresh tests: a daemon with scaled-down refresh numbers, SDK-like
fetches that remember when they were sent, and bursts from several processes.

Time in these tests moves only as fast as the emulator's short credential lifetimes make
it: every number below is seconds where the defaults are minutes.
"""

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import fetch

from stsd.client.control import Control
from stsd.client.sandbox import DaemonProcess, Sandbox


def refresh_toml(
    floor: int,
    trigger: int,
    hard_floor: int,
    prompt_before: int | None = None,
    reassume_before: int | None = None,
) -> str:
    """config.toml with a [refresh] table in seconds."""
    lines = [
        "[refresh]",
        f"floor_seconds = {floor}",
        f"trigger_seconds = {trigger}",
        f"hard_floor_seconds = {hard_floor}",
    ]
    if prompt_before is not None:
        lines.append(f"prompt_before_seconds = {prompt_before}")
    if reassume_before is not None:
        lines.append(f"reassume_before_seconds = {reassume_before}")
    return "\n".join(lines) + "\n"


@contextmanager
def scaled_daemon(sandbox: Sandbox, toml: str) -> Iterator[DaemonProcess]:
    """`stsd serve` with `toml` as its config.toml."""
    sandbox.write_settings(toml)
    with sandbox.start_daemon() as process:
        process.wait_ready()
        yield process


def status_of(daemon: DaemonProcess) -> dict[str, Any]:
    """`stsd status --json`, read straight from the control socket (no process start)."""
    return Control(daemon.sandbox.paths.control_socket).get("/v1/status")


def epoch(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S%z").timestamp()


def epoch_z(iso: str) -> float:
    return epoch(iso.replace("Z", "+0000"))


@dataclass(frozen=True)
class Fetched:
    """One credentials request: when it was sent and what came back."""

    sent: float  # time.time() before sending: the daemon decided no earlier
    status: int
    body: dict[str, Any]
    content_type: str = "application/json"

    @property
    def key(self) -> str:
        return str(self.body["AccessKeyId"])

    @property
    def left(self) -> float:
        """Seconds the credentials had left when the request was sent (a lower bound
        of what they had when the daemon chose them)."""
        return epoch_z(self.body["Expiration"]) - self.sent


def fetch_now(url: str, token: str) -> Fetched:
    sent = time.time()
    reply = fetch(url, token)
    return Fetched(sent, reply.status, reply.body, reply.content_type)


def poll(
    url: str,
    token: str,
    until: Callable[[Fetched], bool],
    timeout: float,
    every: float = 0.2,
    also: Callable[[], None] | None = None,
) -> list[Fetched]:
    """Fetch every `every` s until `until(fetched)` holds; returns every fetch made.

    `also` runs between fetches (e.g. to sample `status`).

    Raises:
        AssertionError: `timeout` passed first.
    """
    seen: list[Fetched] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(fetch_now(url, token))
        if until(seen[-1]):
            return seen
        if also is not None:
            also()
        time.sleep(every)
    raise AssertionError(f"condition not reached in {timeout} s; last: {seen[-1:]}")


def wait_for(check: Callable[[], bool], timeout: float, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"condition not reached in {timeout} s")


# One client process of a burst: `threads` requests, each on its own connection, all
# released at once when the go-file appears. Prints one JSON line per request. Like an
# SDK, a request answered "still fetching" (503 StsUnavailable after the 0.8 s deadline,
# on a loaded machine) tries again, twice at most.
_BURST_CLIENT = r"""
import json, os, sys, threading, time, urllib.error, urllib.request
go, token, threads, urls = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
gate = threading.Barrier(threads + 1)
results = [None] * threads

def one(i):
    request = urllib.request.Request(urls[i % len(urls)], headers={"Authorization": token})
    gate.wait()
    for attempt in range(3):
        sent = time.time()
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                results[i] = [sent, response.status, json.load(response)]
                return
        except urllib.error.HTTPError as error:
            results[i] = [sent, error.code, json.load(error)]
            if results[i][2].get("code") != "StsUnavailable":
                return
        time.sleep(0.1)

workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
for worker in workers:
    worker.start()
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.002)
gate.wait()
for worker in workers:
    worker.join()
for result in results:
    print(json.dumps(result))
"""


class Burst:
    """Client processes that fire `threads` requests each at the same moment.

    Start them (`prepare`), then `fire()` and collect every reply.
    """

    def __init__(
        self, root: Path, urls: Sequence[str], token: str, processes: int, threads: int
    ) -> None:
        self._go = root / f"go-{time.monotonic_ns()}"
        self._procs = [
            subprocess.Popen(
                [sys.executable, "-c", _BURST_CLIENT, str(self._go), token, str(threads), *urls],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]

    def prepare(self) -> "Burst":
        """Block until every process has its threads waiting at the gate."""
        for proc in self._procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
        return self

    def fire(self) -> list[Fetched]:
        self._go.touch()
        fetched: list[Fetched] = []
        for proc in self._procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            for line in out.splitlines():
                sent, status, body = json.loads(line)
                fetched.append(Fetched(sent, status, body))
        return fetched

    def kill(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def assume_role_arns(requests: list[dict[str, object]]) -> list[str]:
    """RoleArn of every AssumeRole the emulator recorded, in order."""
    arns = []
    for record in requests:
        params = record["params"]
        if record["action"] == "AssumeRole" and isinstance(params, dict):
            arns.append(str(params["RoleArn"]))
    return arns
