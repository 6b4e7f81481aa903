"""Run a command as a child (no shell), forward signals to it once, call a tick while it
runs, and report how it ended.

Signals: a terminal's Ctrl-C (or Ctrl-\\, or a hangup) goes to the whole foreground
process group, the child included; forwarding it too would deliver it twice, and a
second SIGINT means "abort now" to terraform and many others. So, as sudo does, a
signal the kernel generated is not forwarded, and neither is one the child sent. On
Linux the signals are blocked and taken with `sigtimedwait`, whose siginfo tells who
sent them. Elsewhere (no `sigtimedwait`) handlers do the work and SIGINT/SIGQUIT are
not forwarded while our process group owns the terminal (it reached the child already).

Ctrl-Z (SIGTSTP) and SIGCONT are left alone: the child is in our process group, so
stopping and resuming apply to both of us, as the shell expects.

After `supervise` returns, the forwarded signals stay blocked (or caught): cleanup after
the child ends is never cut short by a late signal. `exit_like` then ends the process
the way the child ended.
"""

import contextlib
import os
import resource
import select
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence

__all__ = ["FORWARDED", "SpawnError", "exit_like", "supervise"]

FORWARDED = (
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTERM,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
# Sent by the terminal to the whole foreground process group.
_TERMINAL_SIGNALS = (signal.SIGINT, signal.SIGQUIT)
# Python ignores SIGPIPE (and SIGXFSZ); an ignored signal survives exec, so the child
# gets them back at their defaults, as subprocess's restore_signals does.
_RESTORE_DEFAULT = (signal.SIGPIPE, signal.SIGXFSZ)
_SI_KERNEL = 0x80  # Linux's si_code for signals the kernel sends (e.g. the tty's ^C)
_CORE_SIGNALS = {signal.SIGQUIT, signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE}


class SpawnError(Exception):
    """The command could not be started; `exit_code` is the shell's (127, 126)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def supervise(
    argv: Sequence[str],
    env: dict[str, str],
    tick: Callable[[], None],
    interval: float,
    precise: bool | None = None,
) -> int:
    """Run `argv` to its end; call `tick` every `interval` seconds meanwhile.

    Returns:
        The child's exit code, or minus the signal that killed it (as `subprocess`).

    Raises:
        SpawnError: not found (127) or not executable (126).
    """
    if precise is None:
        precise = sys.platform == "linux"
    runner = _Precise() if precise else _Portable()
    pid = _spawn(argv, env, runner.child_mask)
    next_tick = time.monotonic() + interval
    while True:
        status = _reap(pid)
        if status is not None:
            return status
        timeout = next_tick - time.monotonic()
        if timeout <= 0:
            tick()
            next_tick = time.monotonic() + interval
            continue
        for signum in runner.wait(timeout, pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)


def exit_like(status: int) -> int:
    """End this process as the child ended: by the same signal, else with its code."""
    if status >= 0:
        return status
    signum = -status
    if signum in _CORE_SIGNALS:
        # The child's crash is the news, not a core of ours.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
    os.kill(os.getpid(), signum)
    return 128 + signum  # only if the signal didn't end us (it is ignored by default)


def _spawn(argv: Sequence[str], env: dict[str, str], mask: Iterable[int]) -> int:
    try:
        return os.posix_spawnp(
            argv[0], list(argv), env, setsigmask=mask, setsigdef=_RESTORE_DEFAULT
        )
    except FileNotFoundError:
        raise SpawnError(f"{argv[0]}: command not found", 127) from None
    except PermissionError:
        raise SpawnError(f"{argv[0]}: permission denied (not executable?)", 126) from None
    except OSError as error:
        raise SpawnError(f"{argv[0]}: can't run it ({error.strerror})", 126) from None


def _reap(pid: int) -> int | None:
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 1  # somebody else reaped it; nothing left to report
    return os.waitstatus_to_exitcode(status) if done else None


class _Precise:
    """Signals blocked and taken with sigtimedwait: siginfo says who sent each one."""

    def __init__(self) -> None:
        self._watched = {*_wanted(), signal.SIGCHLD}
        # Blocked before the child exists, so neither its exit nor a signal is missed;
        # the child starts with the mask we had.
        self.child_mask = signal.pthread_sigmask(signal.SIG_BLOCK, self._watched)

    def wait(self, timeout: float, child: int) -> list[int]:
        info = signal.sigtimedwait(self._watched, timeout)
        if info is None or info.si_signo == signal.SIGCHLD:
            return []
        if info.si_code == _SI_KERNEL or info.si_pid == child:
            return []  # the terminal's (the child got it too), or the child's own
        return [info.si_signo]


class _Portable:
    """Handlers and a wakeup pipe; the terminal's signals judged by who owns the tty."""

    def __init__(self) -> None:
        self._received: list[int] = []
        self._read, write = os.pipe()
        os.set_blocking(write, False)
        signal.set_wakeup_fd(write)
        for signum in (*_wanted(), signal.SIGCHLD):
            signal.signal(signum, self._handle)
        # Caught signals reset to their defaults at exec; the mask is untouched.
        self.child_mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())

    def _handle(self, signum: int, frame: object) -> None:
        self._received.append(signum)

    def wait(self, timeout: float, child: int) -> list[int]:
        del child
        readable, _, _ = select.select([self._read], [], [], timeout)
        if readable:
            os.read(self._read, 512)
        received, self._received = self._received, []
        foreground = _owns_terminal()
        return [
            s
            for s in received
            if s != signal.SIGCHLD and not (foreground and s in _TERMINAL_SIGNALS)
        ]


def _wanted() -> list[signal.Signals]:
    # A signal we were started ignoring (nohup, `&` in a script) stays ignored, by
    # us and by the child, which inherits that.
    return [s for s in FORWARDED if signal.getsignal(s) is not signal.SIG_IGN]


def _owns_terminal() -> bool:
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
    return False
