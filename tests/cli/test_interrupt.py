"""Ctrl-C while ``submit`` waits: a real ``execbatch`` process, SIGINT, a real dev stack.

A batch whose limit orders rest (far below the market) stays open, so the
interrupt always lands while the command is waiting.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import IO

import pytest

from tests.cli.conftest import example_document, execbatch

pytestmark = pytest.mark.devserver


def _resting_document(tmp_path: Path, name: str) -> tuple[Path, str]:
    directive_id = f"cli-{name}-{uuid.uuid4().hex[:8]}"
    document = example_document("dca", directive_id)
    for command in document["commands"]:  # type: ignore[attr-defined]
        command["limit_price"] = "1000.00"  # far below BTC/USD: the orders rest
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(document))
    return path, f"batch-{directive_id}"


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "execbatch.cli.app", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until(stream: IO[str] | None, fragment: str) -> str:
    """Lines of ``stream`` up to and including the first one holding ``fragment``."""
    assert stream is not None
    seen = ""
    while True:
        line = stream.readline()
        assert line, f"the stream ended before {fragment!r}: {seen!r}"
        seen += line
        if fragment in line:
            return seen


def test_ctrl_c_leaves_the_batch_running_and_says_how_to_follow_or_cancel_it(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    path, batch_id = _resting_document(tmp_path, "ctrl-c")
    proc = _start(stack_env, "submit", str(path), "--wait")
    started = _read_until(proc.stdout, "started batch")

    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)

    # the live view is gone and nothing claims the batch ended
    assert [line for line in stdout.splitlines() if not line.startswith("Web UI: ")] == []
    assert proc.returncode == 130
    assert f"started batch {batch_id}" in started
    assert stderr.splitlines() == [
        f"batch {batch_id} is still running: Ctrl-C stopped the waiting, not the batch",
        f"  follow it:  execbatch status {batch_id}",
        f"  cancel it:  execbatch cancel {batch_id}",
        "press Ctrl-C again within 3 s to cancel it now",
    ]
    status = execbatch("status", batch_id, "--json", env=stack_env)
    assert status.code == 0, status.stderr
    assert status.json()["status"] == "RUNNING"  # it was not stopped
    cancelled = execbatch("cancel", batch_id, "--json", env=stack_env)
    assert cancelled.code == 0 and cancelled.json()["status"] == "CANCELLED"


def test_a_second_ctrl_c_cancels_the_batch_and_waits_for_its_result(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    path, batch_id = _resting_document(tmp_path, "ctrl-c-twice")
    proc = _start(stack_env, "submit", str(path), "--wait")
    _read_until(proc.stdout, "started batch")

    proc.send_signal(signal.SIGINT)
    _read_until(proc.stderr, "press Ctrl-C again")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)

    assert proc.returncode == 3, stderr  # the batch ended CANCELLED, not COMPLETED
    assert f"cancelling batch {batch_id} (as `execbatch cancel` does)" in stderr
    assert f"batch {batch_id}  INDEPENDENT  CANCELLED" in stdout
    assert "cancelled: by Ctrl-C while `execbatch submit` waited for it" in stdout
    assert "Traceback" not in stderr


def test_cancel_on_interrupt_cancels_at_the_first_ctrl_c(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    path, batch_id = _resting_document(tmp_path, "cancel-on-interrupt")
    proc = _start(stack_env, "submit", str(path), "--json", "--cancel-on-interrupt")
    _read_until(proc.stderr, "started batch")  # with --json the notes go to stderr

    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)

    assert proc.returncode == 3, stderr
    result = json.loads(stdout)
    assert result["batch_id"] == batch_id and result["status"] == "CANCELLED"
    assert {leg["status"] for leg in result["legs"]} == {"CANCELLED"}
    assert "still running" not in stderr
