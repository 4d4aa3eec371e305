"""Child processes that cannot outlive us: the one supervision code for the project.

The dev stack, the paper venue's ``VenueProcess``, the benchmark and chaos
harnesses and the security tests all run real child processes through
``ManagedProcess``: output appended to a log file, ``stop()`` = SIGTERM then
SIGKILL after a bound, ``kill()`` = SIGKILL (a real crash, for the chaos
suite), ``start()`` again after either = a restart with the same command line,
so the same port and database file.

Two guards against orphans:

* ``own_session=True`` (the default) puts the child in its own session, so a
  Ctrl-C in the terminal reaches only the supervisor, which then stops the
  children in order; signals go to the child's whole process group, so
  grandchildren go too. ``own_session=False`` keeps the child in our process
  group (Ctrl-C reaches it directly) and signals only its PID.
* On Linux, a child started from the main thread gets ``PR_SET_PDEATHSIG`` =
  SIGTERM: if the supervisor dies without cleaning up (SIGKILL, crash) the
  kernel terminates the child anyway. The death signal is tied to the *thread*
  that forked the child, so it is only asked for from the main thread, the one
  thread sure to live as long as the supervisor (a child started from a worker
  thread, e.g. ``asyncio.to_thread``, would otherwise die with that thread).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

PROJECT_ROOT = Path(__file__).resolve().parents[1]

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def python_child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment plus ``extra``, for a Python child that imports this project
    (``PYTHONPATH`` has the project root) and whose log is written as it happens."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if part
    )
    return env


def _death_signal_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to SIGTERM the child when we die (Linux only,
    main thread only: see the module docstring)."""
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return hook


class ManagedProcess:
    """One supervised child: ``start()``, ``alive``, ``stop()`` (TERM, then KILL),
    ``kill()`` (KILL: a crash), ``restart()``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        own_session: bool = True,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._own_session = own_session
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def start(self) -> Self:
        """Spawn the child (no-op while it runs); its output is appended to ``log_path``."""
        if self.alive:
            return self
        self._close_log()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._env,
            cwd=self._cwd,
            start_new_session=self._own_session,
            preexec_fn=_death_signal_hook(),
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the child; SIGKILL it if still there after ``timeout``. Idempotent."""
        proc, self._proc = self._proc, None
        try:
            if proc is None or proc.poll() is not None:
                return
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait(timeout=timeout)
        finally:
            self._reap_group(proc)
            self._close_log()

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL and reap: a crash, no graceful shutdown at all. Idempotent."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                self._signal(proc, signal.SIGKILL)
            if proc is not None:
                proc.wait(timeout=timeout)
        finally:
            self._reap_group(proc)
            self._close_log()

    def restart(self, *, hard: bool = False) -> Self:
        """Stop (or crash, with ``hard=True``) and start again with the same command."""
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def ensure_alive(self, what: str | None = None) -> None:
        """Raise ``RuntimeError`` quoting the log if the child has exited (or never ran):
        the check every readiness loop makes before probing again."""
        if self.alive:
            return
        raise RuntimeError(
            f"{what or self.name} exited with code {self.returncode} during start-up; "
            f"its log ({self.log_path}):\n{self.log_tail()}"
        )

    def wait_for_port(self, port: int, timeout: float, host: str = "127.0.0.1") -> None:
        """Block until something accepts connections on ``host:port`` while we run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ensure_alive()
            with socket.socket() as sock:
                if sock.connect_ex((host, port)) == 0:
                    return
            time.sleep(0.1)
        raise TimeoutError(
            f"{self.name}: nothing listens on {host}:{port} after {timeout}s; its log:\n"
            f"{self.log_tail()}"
        )

    def __enter__(self) -> Self:
        # A subclass's start() may wait for readiness: if that fails, ``__exit__``
        # will not run, so stop the child here rather than leave it behind.
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, chars: int = 3000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def _signal(self, proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        if not self._own_session:
            proc.send_signal(sig)
            return
        # The child leads its own session, so its pid is its process group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def _reap_group(self, proc: subprocess.Popen[bytes] | None) -> None:
        # Grandchildren left in the child's own group (if any) go too.
        if proc is not None and self._own_session:
            self._signal(proc, signal.SIGKILL)

    def _close_log(self) -> None:
        log, self._log = self._log, None
        if log is not None:
            log.close()
