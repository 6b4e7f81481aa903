"""`stsd serve`: load the configuration, open the endpoints, run until a signal.

Lifecycle:
- start: one daemon per user (a lock in the runtime dir; a second one refuses and says
  where the first is); a control socket a crash left behind is removed; a taken port
  is named with its holder; READY=1 goes to the service manager once both endpoints
  answer.
- SIGHUP: reload config.toml and the AWS files; a broken one is refused with the reason
  and the running configuration stays; unchanged profiles keep their sessions and
  credentials.
- SIGTERM/SIGINT: stop accepting, let in-flight requests finish (they are bounded by
  the 0.8 s request deadline), close the service (where state is persisted), remove the
  socket and the address file, exit 0.
"""

import asyncio
import contextlib
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from stsd.client.awsfiles import load_aws_files
from stsd.client.paths import Paths, UnsafeRuntimeDir, ensure_private_dir
from stsd.client.settings import Settings, SettingsError, load_settings, parse_listen
from stsd.client.tokens import ensure_token
from stsd.daemon.activation import InheritedSockets
from stsd.daemon.audit import AuditLog
from stsd.daemon.config import Config, load_config
from stsd.daemon.control_api import create_control_app
from stsd.daemon.errors import ConfigError, StsdError
from stsd.daemon.eventloop import check_loop, run_on
from stsd.daemon.guard import ConnectionGuard, GuardedSite
from stsd.daemon.iam import Iam
from stsd.daemon.imds import add_imds_routes
from stsd.daemon.instance import AlreadyRunning, InstanceLock
from stsd.daemon.keys import KeyManager
from stsd.daemon.logsetup import configure_logging
from stsd.daemon.mfa import MfaDesk
from stsd.daemon.mfa_page import add_mfa_page
from stsd.daemon.porthold import find_port_holder
from stsd.daemon.screenlock import watch_screen_lock
from stsd.daemon.sdnotify import Notifier
from stsd.daemon.server import (
    ENDPOINT,
    AccessLogger,
    answer_credentials_directly,
    create_credentials_app,
    set_own_hosts,
)
from stsd.daemon.service import CredentialService
from stsd.daemon.store_api import add_store_routes
from stsd.daemon.sts import Sts
from stsd.daemon.token_api import add_token_routes
from stsd.daemon.tokens import TokenRegistry
from stsd.daemon.vault import Vault, open_vault

__all__ = ["serve", "settings_needing_restart"]

log = logging.getLogger("stsd.daemon")

EXIT_START_FAILED = 1

# Requests are answered within 0.8 s; a login waits on STS (boto3's own timeouts).
_CREDENTIALS_DRAIN_SECONDS = 3.0
_CONTROL_DRAIN_SECONDS = 5.0
# SDK requests are a line and a few short headers, without a body.
_MAX_LINE_BYTES = 4096


@dataclass(slots=True)
class _Run:
    """What one run of the daemon was started with."""

    paths: Paths
    address: tuple[str, int]
    load: Callable[[], Config]
    listen_pinned: bool  # --listen given: config.toml's `listen` doesn't apply
    notifier: Notifier
    inherited: InheritedSockets
    imds_profile: str | None  # its routes are set up once, at start
    settings: Settings  # as at start: some apply only then
    bound: tuple[str, int] = field(default=("", 0))
    vault: Vault | None = None  # the encrypted store; keys in it win over the AWS files


def serve(
    listen: str | None, config_file: Path | None, log_level: str, event_loop: str = "asyncio"
) -> int:
    """Run the daemon in the foreground; returns the process exit code."""
    configure_logging(log_level, sys.stderr, os.environ)
    notifier = Notifier.from_environ()
    paths = Paths.from_env()
    settings_file = config_file or paths.config_file

    vault: Vault | None = None

    def load() -> Config:
        stored = vault.credentials() if vault is not None else None
        return load_config(settings_file, stored_keys=stored)

    try:
        inherited = InheritedSockets.from_environ()
        vault = _open_vault(paths, settings_file)
        config = load()
        address = parse_listen(listen or config.settings.listen)
        check_loop(event_loop)
    except StsdError as error:
        return _fail(error.message, error.exit_code)
    except ValueError as error:
        return _fail(str(error), ConfigError.exit_code)
    for warning in config.warnings:
        log.warning("%s", warning)
    problem = paths.socket_path_problem()
    if problem:
        return _fail(problem, EXIT_START_FAILED)
    try:
        ensure_private_dir(paths.runtime_dir)
    except UnsafeRuntimeDir as error:
        return _fail(f"unsafe runtime directory: {error}", EXIT_START_FAILED)
    run = _Run(
        paths,
        address,
        load,
        listen_pinned=listen is not None,
        notifier=notifier,
        inherited=inherited,
        imds_profile=config.settings.imds_profile,
        settings=config.settings,
        vault=vault,
    )
    try:
        with InstanceLock(paths) as lock:
            if inherited.control is None:
                lock.remove_stale_socket()
            log.debug("event loop: %s", event_loop)
            return run_on(event_loop, lambda: _run(config, run))
    except AlreadyRunning as error:
        return _fail(str(error), EXIT_START_FAILED)
    except StsdError as error:
        return _fail(error.message, error.exit_code)


def _open_vault(paths: Paths, settings_file: Path) -> Vault:
    """The encrypted store, with the master key config.toml's `store_key` asks for."""
    try:
        choice = load_settings(settings_file).store_key
    except SettingsError as error:
        raise ConfigError(str(error)) from None
    return open_vault(paths.state_dir, choice)


def _fail(message: str, code: int) -> int:
    print(f"stsd serve: {message}", file=sys.stderr)
    return code


async def _run(config: Config, run: _Run) -> int:
    stop = asyncio.Event()
    reload = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Installed first: a SIGHUP's default action would kill us.
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload.set)

    paths = run.paths
    sts = Sts()
    service = CredentialService(config, sts, vault=run.vault)
    settings = config.settings
    tokens = TokenRegistry(ensure_token(paths.token_file), settings.exec_lease.total_seconds())
    audit = AuditLog(paths.state_dir / "audit.log")
    audit.start()
    guard = ConnectionGuard(
        settings.max_connections,
        settings.connection_timeout.total_seconds(),
        on_open=audit.connection_opened,
    )
    mfa = MfaDesk(service, os.environ, store=run.vault)
    service.attach_prompts(mfa)
    credentials_app = create_credentials_app(service, tokens, audit, [guard.middleware])
    add_mfa_page(credentials_app, mfa)
    if config.settings.imds_profile is not None:
        add_imds_routes(credentials_app, config.settings.imds_profile)
    credentials_runner = web.AppRunner(
        credentials_app,
        access_log_class=AccessLogger,
        handle_signals=False,
        shutdown_timeout=_CREDENTIALS_DRAIN_SECONDS,
        max_line_size=_MAX_LINE_BYTES,
        max_field_size=_MAX_LINE_BYTES,
        lingering_time=0,  # an unread body closes the connection instead of draining it
        keepalive_timeout=settings.connection_timeout.total_seconds(),
    )
    control_app = create_control_app(service)
    add_token_routes(control_app, tokens, paths.token_file)
    if run.vault is not None:
        keys = KeyManager(service, run.vault, sts, Iam(), load_aws_files().credentials_path)
        add_store_routes(control_app, keys)
    control_runner = web.AppRunner(
        control_app, handle_signals=False, shutdown_timeout=_CONTROL_DRAIN_SECONDS
    )
    await credentials_runner.setup()
    assert credentials_runner.server is not None  # noqa: S101 - set up just now
    answer_credentials_directly(credentials_runner.server, credentials_app[ENDPOINT], guard)
    await control_runner.setup()
    try:
        run.bound = await _open_endpoint(credentials_runner, run, guard)
        set_own_hosts(credentials_app, *run.bound)
        mfa.page_base = f"http://{_url_host(run.bound[0])}:{run.bound[1]}"
        # The address first: whoever sees the control socket answer (wait_ready, stsd env)
        # must find this daemon's address, not one a killed predecessor left behind.
        _write_atomic(paths.address_file, f"{_url_host(run.bound[0])}:{run.bound[1]}")
        await _open_control(control_runner, run)
        log.info("serving %s", _describe(service.config, run))
        run.notifier.ready(f"Serving {_describe(service.config, run)}")
        background = asyncio.create_task(service.run_background(), name="background")
        lock_watch = _watch_screen_lock(service, config)
        try:
            await _until_stopped(stop, reload, service, run)
        finally:
            if lock_watch is not None:
                lock_watch.cancel()
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background
        run.notifier.stopping("Stopping: finishing requests in flight")
        log.info("stopping: finishing requests in flight")
    finally:
        # Stop listening, then wait for the requests already accepted.
        await asyncio.gather(credentials_runner.cleanup(), control_runner.cleanup())
        await service.close()
        audit.close()
        leftovers = [paths.address_file]
        if run.inherited.control is None:
            leftovers.append(paths.control_socket)
        for leftover in leftovers:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    log.info("stopped")
    return 0


def _watch_screen_lock(service: CredentialService, config: Config) -> "asyncio.Task[None] | None":
    """With `lock_on_screen_lock`, `stsd lock` whenever the screen locks."""
    if not config.settings.lock_on_screen_lock:
        return None

    def lock(why: str) -> None:
        log.info("screen locked (%s): forgetting every session", why)
        service.logout(None, everything=True)

    return asyncio.create_task(watch_screen_lock(lock), name="screen lock")


async def _open_endpoint(
    runner: web.AppRunner, run: _Run, guard: ConnectionGuard
) -> tuple[str, int]:
    """Listen on the configured address (or the socket systemd passed); the bound one.

    Either way connections pass through `guard` (limits and timeouts).
    """
    inherited = run.inherited.credentials
    if inherited is not None:
        await GuardedSite(runner, guard, sock=inherited).start()
        host, port = inherited.getsockname()[:2]
        if not run.listen_pinned and (host, port) != run.address:
            log.warning(
                "serving on %s:%d, the address stsd.socket passed, not %s:%d from config.toml",
                host,
                port,
                *run.address,
            )
        return str(host), int(port)
    host, port = run.address
    try:
        await GuardedSite(runner, guard, host=host, port=port).start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise StsdError(_port_in_use(host, port)) from None
        raise StsdError(f"can't listen on {host}:{port}: {error.strerror}") from None
    for bound in runner.addresses:
        if isinstance(bound, tuple):
            return host, int(bound[1])
    return host, port


def _port_in_use(host: str, port: int) -> str:
    holder = find_port_holder(port)
    by = f" by {holder.describe()}" if holder else ""
    return (
        f"port {port} ({host}:{port}) is in use{by}; stop it, or choose another port with "
        "--listen or `listen` in config.toml"
    )


async def _open_control(runner: web.AppRunner, run: _Run) -> None:
    if run.inherited.control is not None:
        await web.SockSite(runner, run.inherited.control).start()
        return
    socket_path = run.paths.control_socket
    await web.UnixSite(runner, str(socket_path)).start()
    os.chmod(socket_path, 0o600)


async def _until_stopped(
    stop: asyncio.Event, reload: asyncio.Event, service: CredentialService, run: _Run
) -> None:
    while not stop.is_set():
        stopping = asyncio.ensure_future(stop.wait())
        reloading = asyncio.ensure_future(reload.wait())
        await asyncio.wait({stopping, reloading}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        reloading.cancel()
        if reload.is_set() and not stop.is_set():
            reload.clear()
            _reload(service, run)


def _reload(service: CredentialService, run: _Run) -> None:
    run.notifier.reloading()
    try:
        config = run.load()
        if run.imds_profile is not None and run.imds_profile not in config.roles:
            raise ConfigError(
                f"the IMDS endpoint serves profile {run.imds_profile}, which the new "
                "configuration drops: restart stsd to apply it"
            )
    except StsdError as error:
        service.reload_failed(error.message)
        log.error("reload refused, still serving the previous configuration: %s", error.message)
        run.notifier.ready(f"Serving {_describe(service.config, run)}; reload refused")
        return
    change = service.reload(config)
    for warning in config.warnings:
        log.warning("%s", warning)
    log.info("reloaded the configuration: %s", change.summary())
    if not run.listen_pinned and parse_listen(config.settings.listen) != run.address:
        log.warning(
            "listen changed to %s in config.toml: restart stsd to move the endpoint "
            "(still on %s:%d)",
            config.settings.listen,
            *run.bound,
        )
    if config.settings.imds_profile != run.imds_profile:
        log.warning(
            "[imds] changed in config.toml: restart stsd to apply it (IMDS still serves %s)",
            run.imds_profile or "nothing",
        )
    for setting in settings_needing_restart(run.settings, config.settings):
        log.warning("%s changed in config.toml: restart stsd to apply it", setting)
    run.notifier.ready(f"Serving {_describe(service.config, run)}")


def settings_needing_restart(started: Settings, now: Settings) -> list[str]:
    """Settings the endpoint took at start (its connection guard, the token registry)
    that `now` changes: a reload leaves them as they were."""
    read_at_start = {
        "[exec] lease_seconds": (started.exec_lease, now.exec_lease),
        "[endpoint] max_connections": (started.max_connections, now.max_connections),
        "[endpoint] connection_timeout_seconds": (
            started.connection_timeout,
            now.connection_timeout,
        ),
    }
    return [name for name, (before, after) in read_at_start.items() if before != after]


def _describe(config: Config, run: _Run) -> str:
    host, port = run.bound
    return f"{len(config.roles)} role profile(s) on http://{host}:{port}/credentials/<profile>"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _write_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
