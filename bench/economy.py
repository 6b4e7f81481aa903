"""Economy: MFA prompts and STS calls per day over a simulated working week.

Drives the real `Broker` (stsd's refresh and prompt rules) with a virtual clock and a
workload of processes that fetch credentials as SDKs do, and computes, on the same
workload in the same run, two baselines from their documented behaviour:

- the AWS CLI with `mfa_serial` on role profiles: AssumeRole with a code, the result
  cached in ~/.aws/cli/cache and reused while it has at least 15 min left (botocore's
  `CachedCredentialFetcher` window); a prompt per role each time that runs out;
- plain boto3 scripts with `mfa_serial`: each process prompts for itself (no shared
  cache), and botocore refuses to refresh MFA credentials (RefreshWithMFAUnsupportedError
  at the 10 min mandatory window), so a run longer than 50 min is restarted: a prompt
  per process start.

    .venv/bin/python bench/economy.py                 # a week, table and assumptions
    .venv/bin/python bench/economy.py --days 1 --json

Nothing here sleeps or touches the network: STS is a function that issues credentials
instantly, and time is a number the event loop moves.
"""

import argparse
import functools
import heapq
import itertools
import json
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from stsd.daemon.broker import Assume, Broker, Policy, Prompt, Unavailable
from stsd.daemon.model import Credentials, RoleCredentials, RoleProfile, Session, SourceProfile

__all__ = ["Totals", "Workload", "main", "simulate"]

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
MONDAY = datetime(2024, 5, 6, tzinfo=UTC)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

SESSION = timedelta(hours=12)  # GetSessionToken's default, stsd's default
ROLE = HOUR  # chained AssumeRole cap; the CLI's default DurationSeconds too
ANSWER_DELAY = timedelta(seconds=20)  # the user types the code
SDK_ADVISORY = 15 * MIN  # botocore re-fetches inside 15 min of expiry
CLI_CACHE_WINDOW = 15 * MIN  # ~/.aws/cli/cache entries with less left are not used
BOTO3_MFA_USABLE = 50 * MIN  # 1 h minus botocore's 10 min mandatory window
MAX_SLEEP = 60.0  # the service's background loop wakes at least once a minute

SOURCE = SourceProfile(
    name="bastion",
    keys=Credentials("AKIASIMULATEDKEY0001", "simulated"),
    mfa_serial="arn:aws:iam::111111111111:mfa/alice",
    region="eu-west-1",
    keys_origin="~/.aws/credentials",
)


def _role(name: str, arn: str, parent: str = "bastion") -> RoleProfile:
    return RoleProfile(name, arn, parent=parent, source="bastion", duration=ROLE, region=None)


ROLES = (
    _role("prod-ro", "arn:aws:iam::222222222222:role/ReadOnly"),
    _role("prod-admin", "arn:aws:iam::222222222222:role/PowerUser"),
    _role("deploy", "arn:aws:iam::333333333333:role/Deploy", parent="prod-ro"),
)
PARENT = {role.name: role.parent for role in ROLES if role.parent != "bastion"}


@dataclass(frozen=True, slots=True)
class Process:
    """One program run that needs credentials of `profile` from `start` to `end`."""

    kind: str
    profile: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Workload:
    processes: tuple[Process, ...]
    awake: tuple[tuple[datetime, datetime], ...]  # when the laptop is on, per day


@dataclass(slots=True)
class Totals:
    """What one day cost: prompts and STS calls, per approach."""

    processes: int = 0
    requests: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] += n


# -- the workload -----------------------------------------------------------------------


def workload(days: int, rng: random.Random) -> Workload:
    """A developer's week: a long-running tool, CLI commands, scripts, terraform.

    Working hours about 09:00-18:00 with a lunch break; Thursday runs late (a release
    until about 21:30); Wednesday has a three-hour terraform apply.
    """
    processes: list[Process] = []
    awake: list[tuple[datetime, datetime]] = []
    for day in range(days):
        base = MONDAY + timedelta(days=day)
        start = base + timedelta(hours=9) + rng.uniform(-15, 15) * MIN
        late = DAY_NAMES[day % 7] == "Thu"
        end = base + timedelta(hours=21, minutes=30 if late else 0)
        if not late:
            end = base + timedelta(hours=18) + rng.uniform(-20, 30) * MIN
        lunch = (base + timedelta(hours=12, minutes=30), base + timedelta(hours=13, minutes=15))
        awake.append((start - 5 * MIN, end + 5 * MIN))

        def working(moment: datetime, lunch: tuple[datetime, datetime] = lunch) -> bool:
            return not lunch[0] <= moment < lunch[1]

        # An IDE's AWS explorer or a dashboard: open all day, on the read-only role.
        processes.append(Process("ide", "prod-ro", start, end))
        # Interactive `aws` commands: one every 5 min on average.
        moment = start
        while True:
            moment += timedelta(seconds=rng.expovariate(1 / 300))
            if moment >= end:
                break
            if working(moment):
                profile = rng.choices(["prod-ro", "prod-admin", "deploy"], [7, 2, 1])[0]
                length = timedelta(seconds=rng.uniform(2, 20))
                processes.append(Process("cli", profile, moment, moment + length))
        # boto3 scripts: eight a day, a minute to twenty long.
        for _ in range(8):
            moment = start + (end - start) * rng.random()
            if working(moment):
                profile = rng.choices(["prod-ro", "prod-admin"], [4, 1])[0]
                processes.append(
                    Process("script", profile, moment, moment + rng.uniform(1, 20) * MIN)
                )
        # terraform plan and apply, and on Wednesday a long apply.
        for _ in range(2):
            moment = start + (end - start) * rng.random()
            if working(moment):
                processes.append(
                    Process("terraform", "deploy", moment, moment + rng.uniform(5, 30) * MIN)
                )
        if DAY_NAMES[day % 7] == "Wed":
            moment = base + timedelta(hours=14)
            processes.append(Process("terraform", "prod-admin", moment, moment + 3 * HOUR))
    processes.sort(key=lambda p: p.start)
    return Workload(tuple(processes), tuple(awake))  # fmt: skip


# -- stsd: the real broker on a virtual clock --------------------------------------------


class VirtualClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class Events:
    """A time-ordered queue of callbacks; running one moves the clock to its time."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def at(self, moment: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (moment, next(self._order), action))

    def run(self) -> None:
        while self._queue:
            moment, _, action = heapq.heappop(self._queue)
            self._clock.now = max(self._clock.now, moment)
            action()


class StsdWorld:
    """The service's loop, reduced to its decisions: what the broker says, done at once."""

    def __init__(self, load: Workload, policy: Policy, rng: random.Random) -> None:
        self.clock = VirtualClock(MONDAY)
        self.events = Events(self.clock)
        self.broker = Broker([SOURCE], ROLES, policy, self.clock, jitter=rng.random)
        self.policy = policy
        self.awake = load.awake
        self.days: dict[int, Totals] = {}
        self.waiting: list[Process] = []
        self.answering = False
        self.below_floor = 0
        self._keys = itertools.count()
        self._tick_at: datetime | None = None  # the one pending run of the loop
        for process in load.processes:
            self.events.at(process.start, functools.partial(self._start, process))
        for wake, _ in load.awake:
            self.events.at(wake, functools.partial(self._wake, wake))

    def _wake(self, moment: datetime) -> None:
        self._tick_at = None  # whatever was pending slept through
        self._schedule_tick(moment)

    def _schedule_tick(self, moment: datetime) -> None:
        """Run the loop at `moment` unless it already runs earlier (the service's wake)."""
        if self._tick_at is None or moment < self._tick_at:
            self._tick_at = moment
            self.events.at(moment, functools.partial(self._tick, moment))

    def today(self) -> Totals:
        return self.days.setdefault((self.clock.now - MONDAY).days, Totals())

    def _start(self, process: Process) -> None:
        self.today().processes += 1
        self._fetch(process)

    def _fetch(self, process: Process) -> None:
        """One SDK request, and the request it makes next (botocore's advisory window)."""
        now = self.clock.now
        self.today().requests += 1
        while True:
            decision = self.broker.request(process.profile)
            if isinstance(decision, Assume):
                self._assume(decision)
                continue
            if isinstance(decision, Unavailable):
                self.today().add("refused requests")
                self.waiting.append(process)
                self._schedule_tick(now)  # the service wakes; a prompt goes out
                return
            break
        served = decision.credentials.credentials
        assert served.expiration is not None
        if served.remaining(now) < self.policy.floor:
            self.below_floor += 1
        if decision.refresh is not None:
            self._assume(decision.refresh)
        again = max(served.expiration - SDK_ADVISORY, now + MIN)
        if again < process.end:
            self.events.at(again, functools.partial(self._fetch, process))

    def _assume(self, step: Assume) -> None:
        now = self.clock.now
        self.today().add("AssumeRole")
        key = f"ASIASIM{next(self._keys):013d}"
        self.broker.assumed(
            RoleCredentials(
                profile=step.profile.name,
                credentials=Credentials(key, "s", "t", now + step.profile.duration),
                assumed_role_arn=f"{step.profile.role_arn}/alice",
                issued_at=now,
            )
        )

    def _awake_until(self, moment: datetime) -> datetime | None:
        return next((end for start, end in self.awake if start <= moment <= end), None)

    def _tick(self, scheduled: datetime) -> None:
        """The background loop: refreshes and prompts; next run as `next_wakeup` says."""
        if scheduled != self._tick_at:
            return  # superseded by an earlier run
        self._tick_at = None
        now = self.clock.now
        for action in self.broker.due():
            if isinstance(action, Assume):
                self._assume(action)
            elif isinstance(action, Prompt):
                self.today().add("prompts")
                if not self.answering:
                    self.answering = True
                    self.events.at(now + ANSWER_DELAY, self._answer)
        until = self._awake_until(now)
        if until is None:
            return  # asleep: the next wake starts the loop again
        wakeup = self.broker.next_wakeup()
        delay = MAX_SLEEP if wakeup is None else (wakeup - now).total_seconds()
        following = now + timedelta(seconds=min(max(delay, 0.05), MAX_SLEEP))
        if following <= until:
            self._schedule_tick(following)

    def _answer(self) -> None:
        """`stsd login`: GetSessionToken and GetCallerIdentity, then everyone goes on."""
        now = self.clock.now
        self.answering = False
        self.today().add("GetSessionToken")
        self.today().add("GetCallerIdentity")
        self.broker.session_started(
            Session(
                source="bastion",
                credentials=Credentials("ASIASIMSESSION000001", "s", "t", now + SESSION),
                user_arn="arn:aws:iam::111111111111:user/alice",
                issued_at=now,
            )
        )
        waiting, self.waiting = self.waiting, []
        for process in waiting:
            if process.end > now:
                self.events.at(now, functools.partial(self._fetch, process))
        self._schedule_tick(now)


def simulate_stsd(load: Workload, rng: random.Random) -> tuple[dict[int, Totals], int]:
    world = StsdWorld(load, Policy(), rng)
    world.events.run()
    return world.days, world.below_floor


# -- baselines ----------------------------------------------------------------------------


def simulate_cli_cache(load: Workload) -> dict[int, Totals]:
    """Every process gets credentials as the AWS CLI does, through ~/.aws/cli/cache."""
    days: dict[int, Totals] = {}
    cache: dict[str, datetime] = {}  # profile -> expiration of the cached credentials

    def need(profile: str, now: datetime, totals: Totals) -> datetime:
        expires = cache.get(profile)
        if expires is not None and expires - now >= CLI_CACHE_WINDOW:
            return expires
        if profile in PARENT:
            need(PARENT[profile], now, totals)  # the parent's credentials sign the call
        else:
            totals.add("prompts")  # AssumeRole with SerialNumber and TokenCode
        totals.add("AssumeRole")
        cache[profile] = now + ROLE
        return cache[profile]

    queue = [(process.start, n, process) for n, process in enumerate(load.processes)]
    heapq.heapify(queue)
    order = itertools.count(len(queue))
    while queue:
        when, _, process = heapq.heappop(queue)
        totals = days.setdefault((when - MONDAY).days, Totals())
        totals.requests += 1
        if when == process.start:
            totals.processes += 1
        again = max(need(process.profile, when, totals) - SDK_ADVISORY, when + MIN)
        if again < process.end:
            heapq.heappush(queue, (again, next(order), process))
    return days


def simulate_boto3(load: Workload) -> dict[int, Totals]:
    """Every process is a plain boto3 script: its own prompt, no shared cache."""
    days: dict[int, Totals] = {}
    for process in load.processes:
        moment = process.start
        while moment < process.end:
            totals = days.setdefault((moment - MONDAY).days, Totals())
            totals.requests += 1
            if moment == process.start:
                totals.processes += 1
            totals.add("prompts")
            totals.add("AssumeRole", 2 if process.profile in PARENT else 1)
            if moment != process.start:
                totals.add("restarts")  # MFA credentials can't be refreshed: rerun
            moment += BOTO3_MFA_USABLE
    return days


# -- report -------------------------------------------------------------------------------


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    return f"{minutes // 60} h" if minutes >= 120 else f"{minutes} min"


def simulate(days: int, seed: int) -> dict[str, object]:
    """Run all three on one workload; per-day numbers as plain data."""
    rng = random.Random(seed)
    load = workload(days, rng)
    stsd, below_floor = simulate_stsd(load, random.Random(seed + 1))
    cli = simulate_cli_cache(load)
    boto3 = simulate_boto3(load)
    rows = []
    for day in range(days):
        s, c, b = (side.get(day, Totals()) for side in (stsd, cli, boto3))
        rows.append(
            {
                "day": DAY_NAMES[day % 7],
                "processes": s.processes,
                "stsd": _side(s, ("GetSessionToken", "GetCallerIdentity", "AssumeRole")),
                "aws_cli_cache": _side(c, ("AssumeRole",)),
                "boto3_scripts": _side(b, ("AssumeRole",)),
            }
        )
    return {"seed": seed, "rows": rows, "stsd_below_floor": below_floor}


def _side(totals: Totals, calls: tuple[str, ...]) -> dict[str, int]:
    return {
        "prompts": totals.counts["prompts"],
        "sts_calls": sum(totals.counts[c] for c in calls),
        "requests": totals.requests,
        "refused": totals.counts["refused requests"],
        "restarts": totals.counts["restarts"],
    }


ASSUMPTIONS = f"""\
Assumptions
- A working week: about 09:00-18:00 (lunch 12:30-13:15 without new processes), Thursday
  until 21:30; the laptop sleeps outside working hours. Profiles: prod-ro (ReadOnly),
  prod-admin (PowerUser), deploy (chained from prod-ro).
- Processes: an IDE/dashboard open all day on prod-ro; an `aws` command every 5 min on
  average (70 % prod-ro, 20 % prod-admin, 10 % deploy); 8 boto3 scripts a day of
  1-20 min; 2 terraform runs a day of 5-30 min on deploy; Wednesday a 3 h apply.
- SDKs re-fetch when their credentials have under {_minutes(SDK_ADVISORY)} left (botocore).
- stsd: the real Broker, default policy (floor 20 min, trigger 30 min, hard floor 5 min,
  prompt 30 min before the {_minutes(SESSION)} session ends, roles kept fresh for 12 h
  after use); the user answers a prompt in {ANSWER_DELAY.seconds} s. STS calls:
  GetSessionToken and GetCallerIdentity per code, AssumeRole per refresh.
- AWS CLI + cache: mfa_serial on the role profiles; every process reads and fills
  ~/.aws/cli/cache (a best case: terraform and boto3 don't read it); an entry with under
  {_minutes(CLI_CACHE_WINDOW)} left is not used: a prompt, and AssumeRole with the code for 1 h;
  a chained profile needs its parent's entry, then AssumeRole without a code.
- boto3 scripts: mfa_serial on the role profiles, no shared cache: a prompt per process
  start; MFA credentials can't be refreshed (RefreshWithMFAUnsupportedError), so a run
  is restarted every {_minutes(BOTO3_MFA_USABLE)}, with another prompt.
"""


def render(result: dict[str, object]) -> str:
    rows = result["rows"]
    assert isinstance(rows, list)
    head = (
        f"{'':5} {'':>9}   {'stsd':^19}   {'AWS CLI + cache':^19}   {'boto3 scripts':^19}\n"
        f"{'day':5} {'processes':>9}   " + "   ".join([f"{'prompts':>8} {'STS calls':>10}"] * 3)
    )
    lines = [head]
    total: Counter[str] = Counter()
    for row in rows:
        cells = []
        for side in ("stsd", "aws_cli_cache", "boto3_scripts"):
            cells.append(f"{row[side]['prompts']:>8} {row[side]['sts_calls']:>10}")
            total[f"{side}.prompts"] += row[side]["prompts"]
            total[f"{side}.sts_calls"] += row[side]["sts_calls"]
        total["processes"] += row["processes"]
        lines.append(f"{row['day']:5} {row['processes']:>9}   " + "   ".join(cells))
    cells = [
        f"{total[f'{side}.prompts']:>8} {total[f'{side}.sts_calls']:>10}"
        for side in ("stsd", "aws_cli_cache", "boto3_scripts")
    ]
    lines.append(f"{'week':5} {total['processes']:>9}   " + "   ".join(cells))
    refused = sum(row["stsd"]["refused"] for row in rows)
    restarts = sum(row["boto3_scripts"]["restarts"] for row in rows)
    lines.append("")
    lines.append(
        f"stsd: {refused} request(s) answered 503 while a code was awaited; "
        f"{result['stsd_below_floor']} served under the floor. "
        f"boto3 scripts: {restarts} restart(s) of long runs."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="MFA prompts and STS calls per day: stsd beside the AWS CLI and boto3."
    )
    parser.add_argument(
        "--days", type=int, default=5, help="working days to simulate from Monday (1-5)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the workload")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.days <= 5:
        parser.error("--days must be 1 to 5")
    result = simulate(args.days, args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(render(result))
        print()
        print(ASSUMPTIONS, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
