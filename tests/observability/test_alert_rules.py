"""deploy/prometheus/alerts.yml is valid (``promtool check rules``) and every alert in it
fires on sample series (``promtool test rules alerts_test.yml``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.observability.prometheus import PROMTOOL, needs_promtool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def test_every_alert_has_a_test_where_it_fires() -> None:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert alerts == {
        "ExecbatchBatchNeedsAttention",
        "ExecbatchExposureOpen",
        "ExecbatchVenueErrorRatio",
        "ExecbatchBatchesTimingOut",
        "ExecbatchRecoveryRunsStarted",
        "ExecbatchNoWorkerPolling",
    }
    tests = yaml.safe_load((DEPLOY / "alerts_test.yml").read_text())["tests"]
    firing = {
        check["alertname"]
        for test in tests
        for check in test["alert_rule_test"]
        if check["exp_alerts"]
    }
    assert firing == alerts


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "check", "rules", "alerts.yml"],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout


@needs_promtool
def test_each_alert_fires_on_its_sample_series() -> None:
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "test", "rules", "alerts_test.yml"],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        check=False,
    )
    print(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr
