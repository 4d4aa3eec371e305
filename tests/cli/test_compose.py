"""docker-compose.yml runs the worker exactly as ``execbatch worker`` expects to be run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from execbatch.config.environment import ExecbatchConfig
from execbatch.devstack import DevStack
from execbatch.temporal.server_tuning import DYNAMIC_CONFIG

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
WORKER_KEYS = {
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "EXECBATCH_TASK_QUEUE",
    "EXECBATCH_VENUE_URL",
    "EXECBATCH_VENUE_ACCOUNT",
    "EXECBATCH_METRICS_PORT",
    "EXECBATCH_LOG_FORMAT",
    "EXECBATCH_DEPLOYMENT_NAME",
    "EXECBATCH_BUILD_ID",
}
NOT_IN_CONFIG = {"EXECBATCH_LOG_FORMAT"}
"""Read by the worker's logging set-up (``execbatch.observability.logs``), not the config."""


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _config_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ExecbatchConfig:
    for key in list(os.environ):
        if key.startswith(("TEMPORAL_", "EXECBATCH_")):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return ExecbatchConfig.from_env()


def test_worker_command_is_execbatch_worker() -> None:
    worker = _compose()["services"]["worker"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["execbatch"]' in dockerfile
    assert worker["command"] == ["worker"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'execbatch = "execbatch.cli.app:main"' in pyproject
    assert worker["deploy"]["replicas"]


def test_worker_environment_is_what_execbatch_worker_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    services = _compose()["services"]
    env = {k: str(v) for k, v in services["worker"]["environment"].items()}
    assert set(env) == WORKER_KEYS
    # The same variables the dev stack gives its workers.
    assert WORKER_KEYS - {"EXECBATCH_VENUE_ACCOUNT", "EXECBATCH_LOG_FORMAT"} <= set(
        DevStack(Path("/nonexistent")).worker_env()
    )

    config = _config_from(env, monkeypatch)
    assert config.address == "temporal:7233"
    assert config.namespace == "default"
    assert config.task_queue == "execbatch"
    assert config.venue_url == "http://venue:8700"
    assert config.venue_account == "default"
    assert config.metrics_port == 9464
    assert config.deployment_name == "execbatch"
    assert config.build_id == "${EXECBATCH_BUILD_ID:-1}"  # compose interpolates it
    # Every variable is actually read: changing it changes the worker's configuration.
    for key in set(env) - NOT_IN_CONFIG:
        value = "9465" if key == "EXECBATCH_METRICS_PORT" else env[key] + "-x"
        changed = _config_from({**env, key: value}, monkeypatch)
        assert changed != config, f"{key} is not read by ExecbatchConfig.from_env"

    venue_command = services["venue"]["command"]
    assert venue_command[0] == "venue"
    assert venue_command[venue_command.index("--port") + 1] == "8700"
    assert services["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == env["TEMPORAL_ADDRESS"]


def test_start_order_and_pinned_images() -> None:
    services = _compose()["services"]
    worker_deps = services["worker"]["depends_on"]
    assert worker_deps["temporal-setup"]["condition"] == "service_completed_successfully"
    assert worker_deps["venue"]["condition"] == "service_healthy"
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == (
        "service_completed_successfully"
    )
    setup = "\n".join(services["temporal-setup"]["command"])
    assert "--name BatchMode --type Keyword --name BatchStatus --type Keyword" in setup
    for name, service in services.items():
        if "image" in service and "build" not in service:
            tag = service["image"].rsplit(":", 1)
            assert len(tag) == 2 and tag[1] not in {"latest", ""}, f"{name} is not pinned"
        if name not in {"temporal-schema", "temporal-setup", "worker", "temporal-ui"}:
            assert "healthcheck" in service, f"{name} has no healthcheck"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_config_accepts_it() -> None:
    proc = subprocess.run(
        ["docker-compose", "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_cluster_gets_the_dynamic_config_the_dev_stacks_use() -> None:
    temporal = _compose()["services"]["temporal"]
    mounted = {
        volume.split(":")[1]: ROOT / volume.split(":")[0]
        for volume in temporal["volumes"]
        if isinstance(volume, str)
    }
    path = "/etc/temporal/" + temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    assert path in mounted
    values = yaml.safe_load(mounted[path].read_text())
    assert {key: str(entries[0]["value"]).lower() for key, entries in values.items()} == {
        key: value.lower() for key, value in DYNAMIC_CONFIG.items()
    }


def test_prometheus_scrapes_the_workers_and_grafana_shows_the_dashboard() -> None:
    services = _compose()["services"]
    worker_env = services["worker"]["environment"]
    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    job = scrape["scrape_configs"][0]
    assert job["dns_sd_configs"][0]["names"] == ["worker"]
    assert str(job["dns_sd_configs"][0]["port"]) == worker_env["EXECBATCH_METRICS_PORT"]
    mounts = {
        v.split(":")[1]: ROOT / v.split(":")[0]
        for v in services["prometheus"]["volumes"]
        if v.startswith("./")
    }
    assert mounts["/etc/prometheus/alerts.yml"] == ROOT / "deploy/prometheus/alerts.yml"
    assert "/etc/prometheus/alerts.yml" in scrape["rule_files"]
    grafana = {v.split(":")[1]: ROOT / v.split(":")[0] for v in services["grafana"]["volumes"]}
    dashboard = grafana["/var/lib/grafana/dashboards/execbatch.json"]
    panels = json.loads(dashboard.read_text())["panels"]
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    for metric in (
        "execbatch_batches_running",
        "execbatch_batches_finished_total",
        "execbatch_exposed_quantity",
        "execbatch_venue_call_duration_seconds_bucket",
        "execbatch_venue_calls_total",
        "execbatch_venue_retries_total",
        "execbatch_recovery_runs_started_total",
        "execbatch_compensations_total",
        "execbatch_legs_finished_total",
        "temporal_num_pollers",
    ):
        assert metric in exprs, metric
