"""`stsd serve`: the daemon itself (the one command that loads boto3 and aiohttp)."""

import argparse
from collections.abc import Mapping
from pathlib import Path

__all__ = ["run"]


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    del env
    from stsd.daemon.main import serve

    config = Path(args.config) if args.config else None
    return serve(args.listen, config, args.log_level, args.event_loop)
