"""One ``/metrics`` endpoint per process: ours and the Temporal SDK's runtime metrics.

The Temporal SDK's Core exports its own metrics (workflow and activity task
latencies, slots, polls, sticky cache, ...) through ``temporalio.runtime``'s
``PrometheusConfig``, on an HTTP listener of its own. ``telemetry_runtime``
binds that listener to a private loopback port, and our endpoint serves our
registry followed by Core's text, so Prometheus scrapes one target per
worker. Both are the Prometheus text format (0.0.4) with distinct metric
names (``execbatch_*`` and ``temporal_*``), so the concatenation is a valid
exposition.

``EXECBATCH_METRICS_PORT`` switches it on (unset: no endpoint, no listener);
``EXECBATCH_METRICS_HOST`` picks the interface (default ``0.0.0.0``).
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import generate_latest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from execbatch.observability.metrics import REGISTRY
from execbatch.supervision import free_port

log = logging.getLogger("execbatch.observability")

ENV_PORT = "EXECBATCH_METRICS_PORT"
ENV_HOST = "EXECBATCH_METRICS_HOST"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_lock = threading.Lock()
_runtime: Runtime | None = None
_core_address: str | None = None
_servers: dict[int, ThreadingHTTPServer] = {}


def metrics_port_from_env() -> int | None:
    """``EXECBATCH_METRICS_PORT`` as a port number, None when unset or empty."""
    raw = os.environ.get(ENV_PORT, "").strip()
    if not raw:
        return None
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{ENV_PORT} must be a port number, not {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"{ENV_PORT} must be a port number, not {raw!r}")
    return port


def telemetry_runtime() -> Runtime:
    """The process's Temporal runtime with Core's Prometheus exporter on a loopback port.

    Created once per process (a Core runtime owns threads and a listener); pass
    it to ``Client.connect(runtime=...)`` so that the client's workers report
    through it. Durations are seconds and counters end in ``_total``, as
    Prometheus names them.
    """
    global _runtime, _core_address
    with _lock:
        if _runtime is None:
            address = f"127.0.0.1:{free_port()}"
            _runtime = Runtime(
                telemetry=TelemetryConfig(
                    metrics=PrometheusConfig(
                        bind_address=address,
                        counters_total_suffix=True,
                        unit_suffix=True,
                        durations_as_seconds=True,
                    ),
                    global_tags={"component": "execbatch-worker"},
                )
            )
            _core_address = address
        return _runtime


def core_metrics_text(timeout: float = 2.0) -> str:
    """Core's current exposition, or "" when no telemetry runtime exists (or it fails)."""
    if _core_address is None:
        return ""
    try:
        with urllib.request.urlopen(f"http://{_core_address}/metrics", timeout=timeout) as answer:
            text: str = answer.read().decode()
            return text
    except OSError as exc:
        log.warning("Temporal SDK metrics unavailable: %s", exc)
        return ""


def exposition() -> bytes:
    """What ``/metrics`` answers: our registry, then the Temporal SDK's metrics."""
    ours = generate_latest(REGISTRY)
    core = core_metrics_text()
    if core and not core.endswith("\n"):
        core += "\n"
    return ours + core.encode()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path not in ("/metrics", "/"):
            self.send_error(404, "only /metrics here")
            return
        body = exposition()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every few seconds are not worth a log line."""


def serve_metrics(port: int, host: str | None = None) -> int:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; returns the bound port.

    Idempotent per port (several workers or executors in one process share
    it); port 0 binds a free port.
    """
    host = host if host is not None else os.environ.get(ENV_HOST, "0.0.0.0")
    with _lock:
        if port and port in _servers:
            return port
        server = ThreadingHTTPServer((host, port), _Handler)
        server.daemon_threads = True
        bound: int = server.server_address[1]
        _servers[bound] = server
    thread = threading.Thread(
        target=server.serve_forever, name=f"execbatch-metrics-{bound}", daemon=True
    )
    thread.start()
    log.info("metrics on http://%s:%s/metrics", host, bound)
    return bound


def stop_metrics(port: int) -> None:
    """Stop the endpoint on ``port`` (tests)."""
    with _lock:
        server = _servers.pop(port, None)
    if server is not None:
        server.shutdown()
        server.server_close()
