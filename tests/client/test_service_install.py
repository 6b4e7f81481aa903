"""`stsd service` and the unit files: systemd-analyze on every unit we write, the plist
parsed, `--dry-run` into a throwaway home for both platforms, and real installs driven
against stand-in `systemctl`/`launchctl` commands that record what they were asked."""

import os
import plistlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from stsd.client.service import interpreter_problem
from stsd.client.units import (
    REFERENCE_LAUNCHD,
    REFERENCE_SYSTEMD,
    SANDBOXED_OPEN_URL,
    ServiceSpec,
    systemd_unit,
)

REPO = Path(__file__).resolve().parents[2]

# Records each call as one line; answers the status queries like the real tools.
_STAND_IN = """#!/bin/sh
echo "$(basename "$0") $*" >> "$STSD_TEST_CALLS"
case "$*" in
  *is-enabled*) echo enabled ;;
  *is-active*) echo active ;;
  *print*) echo "state = running" ;;
esac
"""


@dataclass
class Home:
    """A throwaway home with its own XDG dirs, and stand-ins for the service managers."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def calls_file(self) -> Path:
        return self.root / "calls"

    def env(self, with_managers: bool = True) -> dict[str, str]:
        bin_dir = self.root / "bin"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "XDG_"))}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / "cfg"),
            XDG_RUNTIME_DIR=str(self.root / "run"),
            STSD_TEST_CALLS=str(self.calls_file),
            PATH=f"{bin_dir}:{os.environ['PATH']}" if with_managers else "/nonexistent",
        )
        return env

    def stsd(self, *args: str, with_managers: bool = True) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [sys.executable, "-m", "stsd.client", "service", *args],
            env=self.env(with_managers),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def calls(self) -> list[str]:
        if not self.calls_file.exists():
            return []
        return self.calls_file.read_text().splitlines()

    def files(self) -> list[Path]:
        return sorted(p for p in self.home.rglob("*"))


@pytest.fixture
def home(short_tmp: Path) -> Home:
    box = Home(short_tmp)
    box.home.mkdir()
    (short_tmp / "run").mkdir(mode=0o700)
    (short_tmp / "bin").mkdir()
    for tool in ("systemctl", "launchctl"):
        path = short_tmp / "bin" / tool
        path.write_text(_STAND_IN)
        path.chmod(0o755)
    return box


def _systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing: scripts/setup installs Debian's systemd")
        pytest.skip("systemd-analyze is not installed")
    return tool


def _verify(units: list[Path], home: Path, runtime: Path) -> str:
    """`systemd-analyze --user verify`: its whole output (unknown keys only warn, exit 0)."""
    result = subprocess.run(
        [_systemd_analyze(), "--user", "verify", *map(str, units)],
        env={"PATH": os.environ["PATH"], "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=units[0].parent,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_the_repo_files_are_what_the_installer_writes() -> None:
    """systemd/ and launchd/ hold the installer's output for a pipx install."""
    assert (REPO / "systemd" / "stsd.service").read_text() == REFERENCE_SYSTEMD, (
        "systemd/stsd.service drifted from client/units.py; rewrite it with REFERENCE_SYSTEMD"
    )
    assert (REPO / "launchd" / "io.stsd.agent.plist").read_bytes() == REFERENCE_LAUNCHD, (
        "launchd/io.stsd.agent.plist drifted from client/units.py; use REFERENCE_LAUNCHD"
    )


def test_systemd_analyze_accepts_the_repo_units_without_a_word(home: Home) -> None:
    """The service and the socket unit verify with no warning at all; the binary
    ExecStart names (%h/.local/bin/stsd, where pipx puts it) must exist for that."""
    stsd = home.home / ".local" / "bin" / "stsd"
    stsd.parent.mkdir(parents=True)
    stsd.write_text("#!/bin/sh\n")
    stsd.chmod(0o755)
    units = [REPO / "systemd" / "stsd.service", REPO / "systemd" / "stsd.socket"]
    assert _verify(units, home.home, home.root / "run") == ""


def test_systemd_analyze_would_catch_an_unknown_key(home: Home, short_tmp: Path) -> None:
    """The check above can fail: a misspelt key is reported (and still exits 0)."""
    unit = short_tmp / "stsd.service"
    unit.write_text(REFERENCE_SYSTEMD.replace("PrivateTmp=yes", "PrivateTemp=yes"))
    stsd = home.home / ".local" / "bin" / "stsd"
    stsd.parent.mkdir(parents=True)
    stsd.write_text("#!/bin/sh\n")
    stsd.chmod(0o755)
    assert "Unknown key" in _verify([unit], home.home, home.root / "run")


def test_the_unit_has_what_the_issue_asks_for() -> None:
    lines = set(REFERENCE_SYSTEMD.splitlines())
    for expected in (
        "Type=notify",
        "RuntimeDirectory=stsd",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=%h/.local/state/stsd",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "LockPersonality=yes",
        "SystemCallArchitectures=native",
        "UMask=0077",
        "Restart=on-failure",
        "RestartPreventExitStatus=78",
        f'Environment="STSD_OPEN_URL={SANDBOXED_OPEN_URL}"',
    ):
        assert expected in lines


def test_odd_paths_are_escaped_so_systemd_reads_them_back(home: Home, short_tmp: Path) -> None:
    """A space, a `%` and a `$` in the interpreter path: systemd-analyze finds the file
    only if the unit escaped each of them right."""
    odd = short_tmp / "with space" / "py%th$on"
    odd.parent.mkdir()
    odd.write_text("#!/bin/sh\n")
    odd.chmod(0o755)
    spec = ServiceSpec(
        home=str(home.home),
        command=(str(odd), "-m", "stsd.client", "serve"),
        state_dir=str(short_tmp / "state dir"),
        environment=(("PATH", "/usr/bin:/bin"), ("AWS_CONFIG_FILE", f"{home.home}/50% off")),
    )
    unit = short_tmp / "stsd.service"
    unit.write_text(systemd_unit(spec))
    assert _verify([unit], home.home, home.root / "run") == ""


def test_the_plist_parses_and_has_what_launchd_needs() -> None:
    agent = plistlib.loads((REPO / "launchd" / "io.stsd.agent.plist").read_bytes())
    assert agent["Label"] == "io.stsd.agent"
    assert agent["ProgramArguments"] == ["/Users/you/.local/bin/stsd", "serve"]
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}  # restart after a crash only
    assert agent["StandardErrorPath"] == "/Users/you/Library/Logs/stsd/stsd.log"
    assert agent["StandardOutPath"] == agent["StandardErrorPath"]
    assert agent["Umask"] == 0o077
    assert "/opt/homebrew/bin" in agent["EnvironmentVariables"]["PATH"]


def test_dry_run_for_systemd_prints_the_unit_and_the_commands(home: Home) -> None:
    """Nothing is written or run; the unit names this interpreter, unresolved (a venv's
    python is a link to the base one, which lacks stsd's packages)."""
    result = home.stsd("install", "--dry-run", "--platform", "systemd")
    assert result.returncode == 0, result.stderr
    unit_path = home.home / "cfg" / "systemd" / "user" / "stsd.service"
    assert f"would write {unit_path} (mode 0644):" in result.stdout
    assert f"ExecStart={sys.executable} -m stsd.client serve" in result.stdout
    assert f'Environment="XDG_CONFIG_HOME={home.home}/cfg"' in result.stdout
    assert "ReadWritePaths=%h/.local/state/stsd" in result.stdout
    commands = [line for line in result.stdout.splitlines() if line.startswith("would run:")]
    assert commands == [
        "would run: systemctl --user daemon-reload",
        "would run: systemctl --user enable stsd.service",
        "would run: systemctl --user restart stsd.service",
    ]
    assert home.files() == []
    assert home.calls() == []


def test_dry_run_for_launchd_prints_a_plist_that_parses(home: Home) -> None:
    result = home.stsd("install", "--dry-run", "--platform", "launchd")
    assert result.returncode == 0, result.stderr
    start = result.stdout.index("<?xml")
    end = result.stdout.index("</plist>") + len("</plist>")
    agent = plistlib.loads(result.stdout[start:end].encode())
    assert agent["ProgramArguments"] == [sys.executable, "-m", "stsd.client", "serve"]
    assert agent["StandardErrorPath"] == f"{home.home}/Library/Logs/stsd/stsd.log"
    assert agent["EnvironmentVariables"]["XDG_CONFIG_HOME"] == f"{home.home}/cfg"
    uid = os.getuid()
    plist = home.home / "Library" / "LaunchAgents" / "io.stsd.agent.plist"
    assert f"would run: launchctl bootstrap gui/{uid} {plist}" in result.stdout
    assert home.files() == []
    assert home.calls() == []


def test_install_status_uninstall_with_systemd(home: Home) -> None:
    """The unit is written (and verifies), then enabled and (re)started; status reports
    it; uninstall disables, stops and removes it."""
    installed = home.stsd("install", "--platform", "systemd")
    assert installed.returncode == 0, installed.stderr
    unit = home.home / "cfg" / "systemd" / "user" / "stsd.service"
    assert unit.stat().st_mode & 0o777 == 0o644
    assert (home.home / ".local" / "state" / "stsd").stat().st_mode & 0o777 == 0o700
    assert _verify([unit], home.home, home.root / "run") == ""
    assert home.calls() == [
        "systemctl --user daemon-reload",
        "systemctl --user enable stsd.service",
        "systemctl --user restart stsd.service",
    ]
    assert "journalctl --user -u stsd" in installed.stdout

    status = home.stsd("status", "--platform", "systemd")
    assert f"systemd service: {unit}\n" in status.stdout
    assert "  enabled: enabled\n  active: active\n" in status.stdout
    assert "differs" not in status.stdout
    assert status.returncode == 1  # no daemon answers in this home
    assert "daemon: not answering" in status.stdout

    uninstalled = home.stsd("uninstall", "--platform", "systemd")
    assert uninstalled.returncode == 0, uninstalled.stderr
    assert not unit.exists()
    assert home.calls()[-2:] == [
        "systemctl --user disable --now stsd.service",
        "systemctl --user daemon-reload",
    ]


def test_status_says_when_the_installed_unit_is_outdated(home: Home) -> None:
    assert home.stsd("install", "--platform", "systemd").returncode == 0
    unit = home.home / "cfg" / "systemd" / "user" / "stsd.service"
    unit.write_text(unit.read_text().replace(sys.executable, "/old/venv/bin/python"))
    status = home.stsd("status", "--platform", "systemd")
    assert "differs from what `stsd service install` writes now" in status.stdout


def test_install_and_uninstall_with_launchd(home: Home) -> None:
    installed = home.stsd("install", "--platform", "launchd")
    assert installed.returncode == 0, installed.stderr
    plist = home.home / "Library" / "LaunchAgents" / "io.stsd.agent.plist"
    assert plistlib.loads(plist.read_bytes())["Label"] == "io.stsd.agent"
    assert (home.home / "Library" / "Logs" / "stsd").is_dir()
    uid = os.getuid()
    assert home.calls() == [
        f"launchctl bootout gui/{uid}/io.stsd.agent",
        f"launchctl enable gui/{uid}/io.stsd.agent",
        f"launchctl bootstrap gui/{uid} {plist}",
    ]
    status = home.stsd("status", "--platform", "launchd")
    assert "  loaded: yes" in status.stdout
    assert home.stsd("uninstall", "--platform", "launchd").returncode == 0
    assert not plist.exists()
    assert home.calls()[-1] == f"launchctl bootout gui/{uid}/io.stsd.agent"


def test_without_a_service_manager_install_says_what_is_missing(home: Home) -> None:
    result = home.stsd("install", "--platform", "systemd", with_managers=False)
    assert result.returncode == 1
    assert "systemctl is not installed here" in result.stderr
    assert "is written" in result.stderr and "Traceback" not in result.stderr


def test_uninstall_of_nothing_is_fine(home: Home) -> None:
    result = home.stsd("uninstall", "--platform", "systemd")
    assert result.returncode == 0
    assert "no systemd service installed" in result.stdout
    assert home.calls() == []


@pytest.mark.parametrize(
    ("executable", "prefix", "problem"),
    [
        ("/h/.local/share/pipx/venvs/stsd/bin/python", "/h/.local/share/pipx/venvs/stsd", None),
        ("/home/a/.cache/pipx/3f2a/bin/python", "/home/a/.cache/pipx/3f2a", "temporary cache"),
        ("/x/pipx/.cache/3f2a/bin/python", "/x/pipx/.cache/3f2a", "temporary cache"),
        ("python3", "/usr", "not absolute"),
        ("/usr/bin/python3", "/usr", None),
    ],
)
def test_interpreters_that_would_not_outlive_the_install_are_refused(
    executable: str, prefix: str, problem: str | None
) -> None:
    found = interpreter_problem(executable, prefix)
    assert (found is None) if problem is None else (found is not None and problem in found)
