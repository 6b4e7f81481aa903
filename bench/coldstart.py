"""Cold start: `stsd serve` from exec to the first credentials served.

With a persisted MFA session (the encrypted store), a restarted daemon serves at once,
with no new code. The floor is what any daemon built on boto3 and aiohttp pays before
its first line of code: `python -c "import boto3, aiohttp"`. Restarts and floor runs
alternate. Without a persisted session the daemon answers 503 (MFA needed) and the
"first credentials" row says what is missing; "first answer" is measured either way.
"""

import http.client
import socket
import subprocess
import sys
import time

from bench.model import Figure, Row, missing
from bench.rig import PROFILE, Rig
from bench.stats import median, paired_ratio

__all__ = ["coldstart_rows"]

SECTION = "cold start"
FLOOR = 'python -c "import boto3, aiohttp"'
_POLL_SECONDS = 0.001
_TIMEOUT_SECONDS = 30.0
# A restored session may take a moment (reading the store): 503s this long are patient.
_GRACE_MS = 2000.0


def coldstart_rows(rig: Rig, rounds: int) -> list[Row]:
    port = _free_port()
    first_answer: list[float] = []
    first_credentials: list[float] = []
    floor: list[float] = []
    statuses: list[int] = []
    sts_calls: list[int] = []
    for i in range(rounds):
        steps = ["daemon", "floor"] if i % 2 == 0 else ["floor", "daemon"]
        for step in steps:
            if step == "floor":
                floor.append(_import_floor())
                continue
            before = sum(rig.emulator.control.calls().values())
            answer, served, status = _restart(rig, port)
            sts_calls.append(sum(rig.emulator.control.calls().values()) - before)
            first_answer.append(answer)
            statuses.append(status)
            if served is not None:
                first_credentials.append(served)
    floor_figure = Figure(median(floor), "ms", tuple(floor))
    rows = [
        Row(
            SECTION,
            "exec to first HTTP answer",
            Figure(median(first_answer), "ms", tuple(first_answer)),
            FLOOR,
            floor_figure,
            paired_ratio(first_answer, floor),
            "stsd/floor",
        )
    ]
    if len(first_credentials) == rounds:
        rows.append(
            Row(
                SECTION,
                "exec to first credentials, persisted session",
                Figure(median(first_credentials), "ms", tuple(first_credentials)),
                FLOOR,
                floor_figure,
                paired_ratio(first_credentials, floor),
                "stsd/floor",
                extra={"sts_calls_per_start": sts_calls},
            )
        )
    else:
        why = f"needs sessions persisted by the encrypted store (issue 6); got {statuses[-1]}"
        rows.append(missing(SECTION, "exec to first credentials, persisted session", why))
    return rows


def _restart(rig: Rig, port: int) -> tuple[float, float | None, int]:
    """Restart the daemon; ms to its first answer, to its first 200 (None: never), status."""
    token = rig.daemon.token
    start = time.perf_counter()
    daemon = rig.restart_daemon(f"127.0.0.1:{port}")
    answered: float | None = None
    deadline = start + _TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        if daemon.process.poll() is not None:
            raise RuntimeError(f"stsd serve exited: {daemon.logs()}")
        status = _get(port, token)
        if status is None:
            time.sleep(_POLL_SECONDS)
            continue
        now = (time.perf_counter() - start) * 1000
        answered = answered or now
        if status == 200:
            daemon.wait_ready()
            return answered, now, status
        if status != 503:
            raise RuntimeError(f"the restarted daemon answered {status}")
        if now - answered > _GRACE_MS:
            # Still no credentials: nothing was restored. Log in again so the next
            # round starts from a daemon with a session, as this one did.
            daemon.wait_ready()
            rig.login()
            return answered, None, status
        time.sleep(_POLL_SECONDS * 5)
    raise RuntimeError("the restarted daemon never answered")


def _get(port: int, token: str) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", f"/credentials/{PROFILE}", headers={"Authorization": token})
        response = connection.getresponse()
        response.read()
        return response.status
    except ConnectionError:
        return None
    finally:
        connection.close()


def _import_floor() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import boto3, aiohttp"], check=True)
    return (time.perf_counter() - start) * 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
