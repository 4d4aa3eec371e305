"""Real processes for the security tests: dev server, codec server, worker.

Each runs as a child process on free loopback ports with its output in a log
file, so the tests can look at what an operator would see (and grep it).
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from backend.security.keys import generate_key
from backend.temporal.binaries import temporal_cli_path
from backend.temporal.search_attributes import dev_server_flags
from backend.venue.service.process import PROJECT_ROOT, free_port


@dataclass(frozen=True)
class SecretSet:
    """Fresh secrets for one test run, and the environment that configures them."""

    codec_key: str
    old_codec_key: str
    codec_token: str
    venue_api_key: str
    venue_admin_key: str

    @classmethod
    def generate(cls) -> SecretSet:
        return cls(
            codec_key=generate_key(),
            old_codec_key=generate_key(),
            codec_token=secrets.token_urlsafe(32),
            venue_api_key=secrets.token_urlsafe(32),
            venue_admin_key=secrets.token_urlsafe(32),
        )

    def env(self) -> dict[str, str]:
        return {
            "EXECBATCH_CODEC_KEYS": f"k2={self.codec_key},k1={self.old_codec_key}",
            "EXECBATCH_CODEC_SERVER_TOKEN": self.codec_token,
            "EXECBATCH_VENUE_API_KEY": self.venue_api_key,
            "EXECBATCH_VENUE_ADMIN_KEY": self.venue_admin_key,
        }

    def forms(self) -> dict[str, str]:
        """Every spelling of every secret a leak could take, by label."""
        found: dict[str, str] = {}
        for name in (
            "codec_key",
            "old_codec_key",
            "codec_token",
            "venue_api_key",
            "venue_admin_key",
        ):
            value: str = getattr(self, name)
            raw = base64.b64decode(value) if name.endswith("codec_key") else value.encode()
            found[f"{name} (as configured)"] = value
            found[f"{name} (base64)"] = base64.b64encode(raw).decode().rstrip("=")
            found[f"{name} (base64url)"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
            found[f"{name} (hex)"] = raw.hex()
        return found


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if part
    )
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} after {timeout}s:\n{log.read_text()[-3000:]}")


class ChildProcess:
    """A child process with its output in ``log_path``; SIGTERM then SIGKILL on exit."""

    def __init__(self, command: Sequence[str], log_path: Path, env: Mapping[str, str]) -> None:
        self.command = list(command)
        self.log_path = log_path
        self.env = dict(env)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Self:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=PROJECT_ROOT,
        )
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class DevServer(ChildProcess):
    """``temporal server start-dev`` with the Web UI, our search attributes, free ports."""

    def __init__(self, log_path: Path, codec_endpoint: str | None = None) -> None:
        self.port = free_port()
        self.ui_port = free_port()
        command = [
            str(temporal_cli_path()),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-ip",
            "127.0.0.1",
            "--ui-port",
            str(self.ui_port),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--ui-disable-news-fetch",
            "--log-level",
            "warn",
            *dev_server_flags(),
        ]
        if codec_endpoint:
            command += ["--ui-codec-endpoint", codec_endpoint]
        super().__init__(command, log_path, child_env())

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def start(self) -> Self:
        super().start()
        assert self.proc is not None
        wait_for_port(self.port, self.proc, self.log_path, 60)
        wait_for_port(self.ui_port, self.proc, self.log_path, 60)
        return self

    def cli(self, *args: str) -> str:
        """Run a ``temporal`` CLI command against this server; its stdout."""
        done = subprocess.run(
            [str(temporal_cli_path()), *args, "--address", self.address],
            capture_output=True,
            check=True,
            timeout=60,
        )
        return done.stdout.decode()


class CodecServer(ChildProcess):
    """``python -m backend.security.codec_server`` on a free port."""

    def __init__(
        self,
        log_path: Path,
        env: Mapping[str, str],
        origins: Sequence[str],
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        command = [sys.executable, "-m", "backend.security.codec_server", "--port", str(self.port)]
        for origin in origins:
            command += ["--cors-origin", origin]
        super().__init__(command, log_path, child_env(env))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        super().start()
        assert self.proc is not None
        wait_for_port(self.port, self.proc, self.log_path, 30)
        httpx.get(f"{self.url}/health", timeout=5).raise_for_status()
        return self
