"""`stsd emulator`: the strict local STS, for tests, benchmarks and trying things."""

import argparse
from collections.abc import Mapping

__all__ = ["run"]


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    del env
    from stsd.emulator.cli import run as run_emulator

    return run_emulator(list(args.rest))
