"""The dev stack: one per state folder, a clear message for a second one, nothing left behind."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from execbatch.devstack import DevStack, StackAlreadyRunning
from tests.cli.conftest import clean_env, execbatch

pytestmark = pytest.mark.devserver


def test_second_stack_on_the_same_state_dir_says_so(dev_stack: DevStack) -> None:
    with pytest.raises(StackAlreadyRunning, match=r"already running .*\(pid \d+"):
        DevStack.on_free_ports(dev_stack.state_dir).start()

    run = execbatch(
        "dev",
        "--state-dir",
        str(dev_stack.state_dir),
        "--temporal-port",
        "1",
        env=clean_env(),
    )
    assert run.code == 1
    assert "an execbatch dev stack is already running" in run.stderr
    assert dev_stack.ui_url in run.stderr


def test_dev_refuses_a_port_in_use(dev_stack: DevStack, tmp_path: Path) -> None:
    run = execbatch(
        "dev",
        "--state-dir",
        str(tmp_path / "other"),
        "--temporal-port",
        str(dev_stack.temporal_port),
        env=clean_env(),
    )
    assert run.code == 1
    assert f"port {dev_stack.temporal_port} on 127.0.0.1 (for Temporal) is already in use" in (
        run.stderr
    )


def test_stop_leaves_no_process_and_history_survives_a_restart(tmp_path: Path) -> None:
    stack = DevStack.on_free_ports(tmp_path, workers=2)
    with stack:
        pids = [s.pid for s in stack.services()]
        assert [s.name for s in stack.services()] == ["temporal", "venue", "worker-1", "worker-2"]
        assert all(pid and psutil.pid_exists(pid) for pid in pids)
    for pid in pids:
        assert pid is not None
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert (tmp_path / "temporal.db").exists()
    assert (tmp_path / "venue.db").exists()
    # The lock is free again: the same folder starts a new stack.
    with DevStack.on_free_ports(tmp_path, workers=1) as again:
        assert again.dead() == []
    assert os.path.exists(tmp_path / "logs" / "temporal.log")


def test_workers_can_trade_another_venue_of_the_stacks_paper_venue(tmp_path: Path) -> None:
    # What `execbatch demo --venue alpaca` builds: the workers get the venue settings
    # for this stack's venue URL, the venue its own extra environment.
    stack = DevStack.on_free_ports(
        tmp_path,
        venue_env={"EXECBATCH_PAPER_BINANCE_KEYS": "k:s:acct"},
        worker_venue_env=lambda url: {"EXECBATCH_VENUE": "alpaca", "EXECBATCH_ALPACA_URL": url},
    )
    env = stack.worker_env()
    assert env["EXECBATCH_VENUE"] == "alpaca"
    assert env["EXECBATCH_ALPACA_URL"] == stack.venue_url == env["EXECBATCH_VENUE_URL"]
    assert stack.venue_env == {"EXECBATCH_PAPER_BINANCE_KEYS": "k:s:acct"}
