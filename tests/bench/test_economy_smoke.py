"""bench/economy.py still runs: one simulated day, in both output forms."""

import json
import subprocess
import sys
from pathlib import Path

ECONOMY = Path(__file__).resolve().parents[2] / "bench" / "economy.py"


def economy(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ECONOMY), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_one_day_costs_stsd_one_prompt_and_the_baselines_more() -> None:
    """Monday: one code for stsd, more for the CLI's cache, one per process for boto3."""
    data = json.loads(economy("--days", "1", "--json"))
    (monday,) = data["rows"]
    assert monday["day"] == "Mon"
    assert monday["processes"] > 50
    assert monday["stsd"]["prompts"] == 1
    assert monday["stsd"]["sts_calls"] > 2  # the code's two calls, then AssumeRoles
    assert monday["aws_cli_cache"]["prompts"] > monday["stsd"]["prompts"]
    assert monday["boto3_scripts"]["prompts"] >= monday["processes"]
    assert data["stsd_below_floor"] == 0


def test_the_table_prints_with_its_assumptions() -> None:
    text = economy("--days", "1")
    assert "Mon" in text and "week" in text
    assert "Assumptions" in text
    assert "~/.aws/cli/cache" in text


def test_days_out_of_range_are_refused() -> None:
    result = subprocess.run(
        [sys.executable, str(ECONOMY), "--days", "9"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "--days must be 1 to 5" in result.stderr
