"""Runtime configuration, read from the environment by the worker and the clients alike.

The Temporal connection uses Temporal's standard environment configuration
(``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``,
``TEMPORAL_TLS*``, ``TEMPORAL_PROFILE`` and the TOML config file), so a
self-hosted cluster or Temporal Cloud needs no code change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from temporalio.envconfig import ClientConfig

DEFAULT_TASK_QUEUE = "execbatch"
DEFAULT_VENUE_URL = "http://127.0.0.1:8700"
DEFAULT_VENUE_ACCOUNT = "default"
ENV_VENUE_ACCOUNT = "EXECBATCH_VENUE_ACCOUNT"
DEFAULT_VENUE = "paper"
DEFAULT_TEMPORAL_ADDRESS = "localhost:7233"
DEFAULT_UI_URL = "http://localhost:8233"
DEFAULT_RECOVERY_INTERVAL_SECONDS = 5.0


@dataclass(frozen=True)
class ExecbatchConfig:
    task_queue: str = DEFAULT_TASK_QUEUE
    venue_url: str = DEFAULT_VENUE_URL
    venue_account: str = DEFAULT_VENUE_ACCOUNT
    """The account batches trade (``EXECBATCH_VENUE_ACCOUNT``): what the CLI and
    ``BatchClient`` put in each batch they start (unless told another, ``--account``),
    and, for a worker, the account its venue keys trade (``venue_account_from_env``)."""
    venue: str = DEFAULT_VENUE
    """Which venue the worker trades (``EXECBATCH_VENUE``: paper, alpaca, ccxt:binance)."""
    ui_url: str = DEFAULT_UI_URL
    temporal: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``Client.connect`` from Temporal's env configuration."""
    recovery_interval_seconds: float = DEFAULT_RECOVERY_INTERVAL_SECONDS
    """How often a worker looks for batches their execution timeout ended (0: never)."""
    metrics_port: int | None = None
    """``EXECBATCH_METRICS_PORT``: serve ``/metrics`` there (None: no endpoint)."""
    deployment_name: str | None = None
    """``EXECBATCH_DEPLOYMENT_NAME``: run the worker with Worker Versioning under this
    Worker Deployment (None: unversioned)."""
    build_id: str | None = None
    """``EXECBATCH_BUILD_ID``: this worker's version within the deployment (default: a hash
    of the loaded code, ``temporalio.worker.load_default_build_id``)."""

    @classmethod
    def from_env(cls) -> ExecbatchConfig:
        connect = dict(ClientConfig.load_client_connect_config())
        if not connect.get("target_host"):
            connect["target_host"] = DEFAULT_TEMPORAL_ADDRESS
        return cls(
            task_queue=os.environ.get("EXECBATCH_TASK_QUEUE", DEFAULT_TASK_QUEUE),
            venue_url=os.environ.get("EXECBATCH_VENUE_URL", DEFAULT_VENUE_URL),
            venue_account=venue_account_from_env(),
            venue=os.environ.get("EXECBATCH_VENUE", DEFAULT_VENUE).strip() or DEFAULT_VENUE,
            ui_url=os.environ.get("EXECBATCH_UI_URL") or ui_url_for(str(connect["target_host"])),
            temporal=connect,
            recovery_interval_seconds=_seconds(
                "EXECBATCH_RECOVERY_INTERVAL", DEFAULT_RECOVERY_INTERVAL_SECONDS
            ),
            metrics_port=_port("EXECBATCH_METRICS_PORT"),
            deployment_name=os.environ.get("EXECBATCH_DEPLOYMENT_NAME") or None,
            build_id=os.environ.get("EXECBATCH_BUILD_ID") or None,
        )

    @property
    def namespace(self) -> str:
        return str(self.temporal.get("namespace") or "default")

    @property
    def address(self) -> str:
        return str(self.temporal.get("target_host") or DEFAULT_TEMPORAL_ADDRESS)

    def workflow_url(self, workflow_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/namespaces/{self.namespace}/workflows/{workflow_id}"


CLOUD_UI_URL = "https://cloud.temporal.io"
UI_PORT_OFFSET = 1000
"""``temporal server start-dev`` serves its Web UI on the frontend's port + 1000."""


def ui_url_for(address: str) -> str:
    """The Web UI of the Temporal at ``address`` (``EXECBATCH_UI_URL``'s default), so the
    links the CLI prints follow the stack it talks to: Temporal Cloud's UI for a
    ``*.tmprl.cloud`` or ``*.api.temporal.io`` address, else the dev server's
    convention (port + 1000) on the same host. A self-hosted UI elsewhere needs
    ``EXECBATCH_UI_URL``."""
    host, _, port = address.rpartition(":")
    if host.endswith((".tmprl.cloud", ".api.temporal.io")):
        return CLOUD_UI_URL
    if not host or not port.isdigit():
        return DEFAULT_UI_URL
    return f"http://{host}:{int(port) + UI_PORT_OFFSET}"


def venue_account_from_env() -> str:
    """``EXECBATCH_VENUE_ACCOUNT`` (default ``default``): the one place the account is read,
    so the CLI, a strategy's ``BatchClient`` and the worker cannot disagree about it."""
    return os.environ.get(ENV_VENUE_ACCOUNT, "").strip() or DEFAULT_VENUE_ACCOUNT


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a number of seconds, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{variable} must be >= 0, not {raw!r}")
    return value


def _port(variable: str) -> int | None:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a port number, not {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"{variable} must be a port number (0-65535), not {raw!r}")
    return port
