"""The economy: the lifecycle issue's simulated week (bench/economy.py), run as it is.

That simulator owns its model and prints its own table (stsd beside the AWS CLI and
plain boto3 scripts, computed in the same run); this section runs it and keeps its
output. Until it exists the section says so.
"""

import subprocess
import sys

from bench.model import Row, missing
from bench.servers import REPO

__all__ = ["economy_rows"]

SECTION = "economy"


def economy_rows() -> tuple[list[Row], str]:
    """Rows for the table and the simulator's own report (empty if there is none)."""
    if not (REPO / "bench" / "economy.py").is_file():
        why = "needs the economy simulator bench/economy.py (issue 4)"
        return [missing(SECTION, "MFA prompts and STS calls per simulated week", why)], ""
    done = subprocess.run(
        [sys.executable, "-m", "bench.economy"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench/economy.py failed: {done.stderr.strip()}")
    return [], done.stdout
