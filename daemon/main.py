"""`stsd serve`: load the configuration, open the endpoints, run until a signal."""

import asyncio
import contextlib
import errno
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from stsd.client.paths import Paths, UnsafeRuntimeDir, ensure_private_dir
from stsd.client.settings import parse_listen
from stsd.client.tokens import ensure_token
from stsd.daemon.audit import AuditLog
from stsd.daemon.config import Config, load_config
from stsd.daemon.control_api import create_control_app
from stsd.daemon.errors import ConfigError, StsdError
from stsd.daemon.guard import ConnectionGuard, GuardedTCPSite
from stsd.daemon.server import (
    AccessLogger,
    create_credentials_app,
    set_own_hosts,
)
from stsd.daemon.service import CredentialService
from stsd.daemon.sts import Sts
from stsd.daemon.token_api import add_token_routes
from stsd.daemon.tokens import TokenRegistry

__all__ = ["serve"]

log = logging.getLogger("stsd.daemon")

EXIT_START_FAILED = 1
_MAX_LINE_BYTES = 4096
_CHATTY_LIBRARIES = ("botocore", "boto3", "urllib3", "s3transfer")


def serve(listen: str | None, config_file: Path | None, log_level: str) -> int:
    """Run the daemon in the foreground; returns the process exit code."""
    _configure_logging(log_level)
    paths = Paths.from_env()
    try:
        config = load_config(config_file or paths.config_file)
        address = parse_listen(listen or config.settings.listen)
    except ConfigError as error:
        print(f"stsd serve: {error.message}", file=sys.stderr)
        return ConfigError.exit_code
    except ValueError as error:
        print(f"stsd serve: {error}", file=sys.stderr)
        return ConfigError.exit_code
    for warning in config.warnings:
        log.warning("%s", warning)
    problem = paths.socket_path_problem()
    if problem:
        print(f"stsd serve: {problem}", file=sys.stderr)
        return EXIT_START_FAILED
    try:
        ensure_private_dir(paths.runtime_dir)
    except UnsafeRuntimeDir as error:
        print(f"stsd serve: unsafe runtime directory: {error}", file=sys.stderr)
        return EXIT_START_FAILED
    try:
        return asyncio.run(_run(config, paths, address))
    except StsdError as error:
        print(f"stsd serve: {error.message}", file=sys.stderr)
        return error.exit_code


def _configure_logging(level: str) -> None:
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    # journald stamps each line itself: no duplicate timestamps there.
    fmt = (
        "%(levelname)s %(name)s: %(message)s"
        if under_journald
        else ("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=level.upper(), format=fmt, stream=sys.stderr, force=True)
    # aiohttp's access log goes through our AccessLogger, which never prints headers.
    logging.getLogger("aiohttp.access").setLevel(
        logging.INFO if level.upper() == "DEBUG" else logging.WARNING
    )
    # At DEBUG botocore and urllib3 log whole requests and responses: the MFA code, the
    # signature, every key and session token STS returns. Never below INFO.
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level.upper())))


async def _run(config: Config, paths: Paths, address: tuple[str, int]) -> int:
    host, port = address
    service = CredentialService(config, Sts())
    lease_seconds = config.settings.exec_lease.total_seconds()
    tokens = TokenRegistry(ensure_token(paths.token_file), lease_seconds)
    settings = config.settings
    audit = AuditLog(paths.state_dir / "audit.log")
    audit.start()
    guard = ConnectionGuard(
        settings.max_connections,
        settings.connection_timeout.total_seconds(),
        on_open=audit.connection_opened,
    )
    credentials_app = create_credentials_app(service, tokens, audit, [guard.middleware])
    credentials_runner = web.AppRunner(
        credentials_app,
        access_log_class=AccessLogger,
        handle_signals=False,
        # SDK requests are a line and a few short headers, without a body.
        max_line_size=_MAX_LINE_BYTES,
        max_field_size=_MAX_LINE_BYTES,
        lingering_time=0,  # an unread body closes the connection instead of draining it
        keepalive_timeout=settings.connection_timeout.total_seconds(),
    )
    control_app = create_control_app(service)
    add_token_routes(control_app, tokens, paths.token_file)
    control_runner = web.AppRunner(control_app, handle_signals=False)
    await credentials_runner.setup()
    await control_runner.setup()
    try:
        site = GuardedTCPSite(credentials_runner, host, port, guard)
        try:
            await site.start()
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise StsdError(
                    f"{host}:{port} is in use (another stsd? `stsd status`); "
                    "choose another with --listen or `listen` in config.toml"
                ) from None
            raise StsdError(f"can't listen on {host}:{port}: {error.strerror}") from None
        bound_port = _bound_port(credentials_runner, port)
        set_own_hosts(credentials_app, host, bound_port)
        socket_path = paths.control_socket
        with contextlib.suppress(FileNotFoundError):
            socket_path.unlink()  # a stale socket from a crash
        await web.UnixSite(control_runner, str(socket_path)).start()
        os.chmod(socket_path, 0o600)
        _write_atomic(paths.address_file, f"{host}:{bound_port}")
        log.info(
            "serving %d role profile(s) on http://%s:%d/credentials/<profile>",
            len(config.roles),
            host,
            bound_port,
        )
        await _until_signal(service)
    finally:
        await credentials_runner.cleanup()
        await control_runner.cleanup()
        await service.close()
        audit.close()
        for leftover in (paths.address_file, paths.control_socket):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    log.info("stopped")
    return 0


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    return requested


async def _until_signal(service: CredentialService) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    background = asyncio.create_task(service.run_background(), name="background")
    try:
        await stop.wait()
    finally:
        background.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await background


def _write_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
