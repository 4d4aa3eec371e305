"""A real Prometheus (Debian's ``prometheus`` package) for tests: started on a free
port with a scrape config pointing at our ``/metrics``, read back through its HTTP
query API. Tests that need it skip with a reason where it is not installed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from execbatch.supervision import ManagedProcess, free_port

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")

needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus is not installed (Debian: apt-get install prometheus; .ci/run does)",
)
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install prometheus; .ci/run does)",
)


class Prometheus(ManagedProcess):
    """``prometheus`` scraping ``targets`` every second, its TSDB in ``folder``."""

    def __init__(self, folder: Path, targets: list[str], rules: Path | None = None) -> None:
        assert PROMETHEUS is not None
        self.port = free_port()
        config = folder / "prometheus.yml"
        rule_files = f"rule_files: ['{rules}']\n" if rules else ""
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            + rule_files
            + "scrape_configs:\n  - job_name: execbatch-worker\n    static_configs:\n"
            + f"      - targets: {targets!r}\n"
        )
        super().__init__(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            folder / "prometheus.log",
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ensure_alive()
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready:\n{self.log_tail()}")

    def query(self, promql: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        answer.raise_for_status()
        body = answer.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        """The single value of an instant query (None: no series)."""
        result = self.query(promql)
        if not result:
            return None
        assert len(result) == 1, result
        return float(result[0]["value"][1])

    def wait_for(self, promql: str, expected: float, timeout: float = 20.0) -> float | None:
        """Poll until the query's single value is ``expected`` (returns the last value)."""
        deadline = time.monotonic() + timeout
        value = self.value(promql)
        while value != expected and time.monotonic() < deadline:
            time.sleep(0.5)
            value = self.value(promql)
        return value

    def alerts(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/alerts", timeout=5)
        answer.raise_for_status()
        alerts: list[dict[str, Any]] = answer.json()["data"]["alerts"]
        return alerts
