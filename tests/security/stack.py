"""Real processes for the security tests: dev server, codec server, worker.

Each runs as a child process on free loopback ports with its output in a log
file, so the tests can look at what an operator would see (and grep it).
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import httpx

from execbatch.devstack.dev_server import dev_server_argv
from execbatch.security.keys import generate_key
from execbatch.supervision import PROJECT_ROOT, ManagedProcess, free_port, python_child_env
from execbatch.temporal.binaries import temporal_cli_path


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
    return python_child_env(extra)


class ChildProcess(ManagedProcess):
    """A child process with its output in ``log_path``; SIGTERM then SIGKILL on exit.

    It stays in our process group (a Ctrl-C on the test run reaches it) and
    runs from the project root.
    """

    def __init__(self, command: Sequence[str], log_path: Path, env: Mapping[str, str]) -> None:
        super().__init__(
            Path(command[0]).name, command, log_path, env=env, cwd=PROJECT_ROOT, own_session=False
        )

    def stop(self, timeout: float = 15.0) -> None:
        super().stop(timeout)


class DevServer(ChildProcess):
    """``temporal server start-dev`` with the Web UI, our search attributes, free ports."""

    def __init__(self, log_path: Path, codec_endpoint: str | None = None) -> None:
        self.port = free_port()
        self.ui_port = free_port()
        command = dev_server_argv(
            self.port,
            http_port=free_port(),
            metrics_port=free_port(),
            ui_port=self.ui_port,
            log_level="warn",
            extra=["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else (),
        )
        super().__init__(command, log_path, child_env())

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def start(self) -> Self:
        super().start()
        self.wait_for_port(self.port, 60)
        self.wait_for_port(self.ui_port, 60)
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
    """``python -m execbatch.security.codec_server`` on a free port."""

    def __init__(
        self,
        log_path: Path,
        env: Mapping[str, str],
        origins: Sequence[str],
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        command = [
            sys.executable,
            "-m",
            "execbatch.security.codec_server",
            "--port",
            str(self.port),
        ]
        for origin in origins:
            command += ["--cors-origin", origin]
        super().__init__(command, log_path, child_env(env))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        super().start()
        self.wait_for_port(self.port, 30)
        httpx.get(f"{self.url}/health", timeout=5).raise_for_status()
        return self
