"""``stsd emulator`` / ``python -m stsd.emulator``: run the strict local STS in the foreground.

Prints ``stsd-emulator listening on http://HOST:PORT`` on stdout once it accepts
connections (``EmulatorProcess`` waits for that line); logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from stsd.emulator.config import DEMO_CONFIG, EmulatorConfig, EmulatorConfigError, load_config
from stsd.emulator.server import create_app

__all__ = ["DEFAULT_LISTEN", "READY_PREFIX", "run"]

DEFAULT_LISTEN = "127.0.0.1:4599"
READY_PREFIX = "stsd-emulator listening on "

log = logging.getLogger(__name__)


class _UsageError(Exception):
    pass


def run(argv: Sequence[str]) -> int:
    """Run the emulator until SIGTERM or Ctrl-C; the exit code says how it ended."""
    args = _parser().parse_args(argv)
    try:
        config = DEMO_CONFIG if args.config is None else load_config(args.config)
        host, port = _parse_listen(args.listen)
    except (EmulatorConfigError, _UsageError) as exc:
        print(f"stsd emulator: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return asyncio.run(_serve(config, host, port))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stsd emulator", description="Run a strict local STS for tests and demos."
    )
    parser.add_argument(
        "--config", metavar="FILE", help="emulator config (TOML); default: the demo config"
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default=DEFAULT_LISTEN,
        help=f"loopback address to listen on, port 0 for any free one (default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="stderr log level (default info)",
    )
    return parser


def _parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port_text = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise _UsageError(f"--listen {listen!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise _UsageError(f"--listen {listen!r}: only loopback addresses are allowed")
    return host, int(port_text)


async def _serve(config: EmulatorConfig, host: str, port: int) -> int:
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print(f"stsd emulator: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        return 1
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(f"{READY_PREFIX}http://{shown}:{bound_port}", flush=True)
    log.info(
        "serving %d users and %d roles on %s:%s",
        len(config.users),
        len(config.roles),
        shown,
        bound_port,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        await runner.cleanup()
    log.info("stopped")
    return 0
