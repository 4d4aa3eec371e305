"""submit / status / cancel / list against a real DevStack, and the errors users meet."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from execbatch.devstack import DevStack
from tests.cli.conftest import UNREACHABLE, clean_env, example_document, execbatch

pytestmark = pytest.mark.devserver


def _write(tmp_path: Path, document: dict[str, object]) -> Path:
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(document))
    return path


def test_submit_json_prints_the_batch_result(stack_env: dict[str, str], tmp_path: Path) -> None:
    directive_id = f"cli-pair-{uuid.uuid4().hex[:8]}"
    path = _write(tmp_path, example_document("pair_trade", directive_id))

    run = execbatch("submit", str(path), "--json", env=stack_env)

    assert run.code == 0, run.stderr
    result = run.json()
    assert result["batch_id"] == f"batch-{directive_id}"
    assert result["mode"] == "COORDINATED"
    assert result["status"] == "COMPLETED"
    legs = result["legs"]
    assert [(leg["command_id"], leg["symbol"], leg["side"], leg["status"]) for leg in legs] == [
        ("c1", "AAPL", "BUY", "FILLED"),
        ("c2", "MSFT", "SELL", "FILLED"),
    ]
    assert [leg["filled_quantity"] for leg in legs] == ["100", "46"]
    assert [leg["compensated_quantity"] for leg in legs] == ["0", "0"]
    assert f"/namespaces/default/workflows/batch-{directive_id}" in run.stderr

    status = execbatch("status", f"batch-{directive_id}", "--json", env=stack_env)
    assert status.code == 0, status.stderr
    assert status.json()["status"] == "COMPLETED"

    listed = execbatch("list", "--mode", "COORDINATED", "--limit", "100", env=stack_env)
    assert listed.code == 0, listed.stderr
    assert f"batch-{directive_id}" in listed.stdout


def test_submit_wait_shows_the_result_table(stack_env: dict[str, str], tmp_path: Path) -> None:
    directive_id = f"cli-rot-{uuid.uuid4().hex[:8]}"
    path = _write(tmp_path, example_document("rotation", directive_id))

    run = execbatch("submit", str(path), "--wait", env=stack_env)

    assert run.code == 0, run.stderr
    assert f"started batch batch-{directive_id}" in run.stdout
    assert "SEQUENTIAL" in run.stdout and "COMPLETED" in run.stdout
    assert "SELL 20 SPY" in run.stdout and "BUY 23 QQQ" in run.stdout
    assert run.stdout.count("Web UI: ") == 1, run.stdout  # once, at the start


def test_the_same_directive_id_with_other_content_is_refused(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    directive_id = f"cli-conflict-{uuid.uuid4().hex[:8]}"
    batch_id = f"batch-{directive_id}"
    document = example_document("pair_trade", directive_id)
    path = _write(tmp_path, document)
    first = execbatch("submit", str(path), "--json", env=stack_env)
    assert first.code == 0, first.stderr

    same = execbatch("submit", str(path), env=stack_env)  # the same content attaches
    assert same.code == 0 and f"attached to existing batch {batch_id}" in same.stdout
    document["commands"][0]["quantity"] = "120"  # type: ignore[index]
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(document))
    refused = execbatch("submit", str(changed), "--wait", env=stack_env)

    assert refused.code == 2
    assert refused.stdout == ""
    assert refused.stderr.strip() == (
        f"error: batch {batch_id} already exists with other content (existing != submitted: "
        "commands[0].quantity: 100 != 120): a directive id names one batch; give the changed "
        "directive a new directive_id"
    )
    status = execbatch("status", batch_id, "--json", env=stack_env)
    assert status.json() == first.json()  # the batch is as it was


def test_cancel_winds_a_resting_batch_down(stack_env: dict[str, str], tmp_path: Path) -> None:
    directive_id = f"cli-cancel-{uuid.uuid4().hex[:8]}"
    document = example_document("dca", directive_id)
    for command in document["commands"]:  # type: ignore[attr-defined]
        command["limit_price"] = "1000.00"  # far below BTC/USD: the orders rest
    path = _write(tmp_path, document)
    batch_id = f"batch-{directive_id}"

    started = execbatch("submit", str(path), env=stack_env)
    assert started.code == 0, started.stderr

    cancelled = execbatch("cancel", batch_id, "--reason", "desk says stop", "--json", env=stack_env)
    assert cancelled.code == 0, cancelled.stderr
    result = cancelled.json()
    assert result["status"] == "CANCELLED"
    assert "desk says stop" in str(result["reason"])
    assert {leg["status"] for leg in result["legs"]} <= {"CANCELLED", "SKIPPED"}  # type: ignore[union-attr]

    again = execbatch("cancel", batch_id, env=stack_env)
    assert again.code == 1
    assert again.stderr.strip() == (
        f"error: batch {batch_id} has already ended: CANCELLED; nothing to cancel"
    )

    listed = execbatch("list", "--status", "CANCELLED", "--limit", "100", env=stack_env)
    assert batch_id in listed.stdout


def test_recover_settles_a_batch_its_execution_timeout_ended(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    directive_id = f"cli-recover-{uuid.uuid4().hex[:8]}"
    document = example_document("pair_trade", directive_id)
    document["directive"]["execution_policy"]["timeout_seconds"] = 2  # type: ignore[index]
    path = _write(tmp_path, document)
    batch_id = f"batch-{directive_id}"
    # Submitted to a queue no worker polls: Temporal times the run out, nothing ran.
    orphan_env = {**stack_env, "EXECBATCH_TASK_QUEUE": f"nobody-{directive_id}"}
    assert execbatch("submit", str(path), env=orphan_env).code == 0

    for _ in range(20):  # while it runs, no worker answers its status query
        status = execbatch("status", batch_id, env=stack_env)
        if "run was TIMED_OUT" in status.stderr:
            break
        assert "no worker answered" in status.stderr, status.stderr
    assert status.code == 1
    assert "not settled yet" in status.stderr
    assert f"`execbatch recover {batch_id}`" in status.stderr
    listed = execbatch("list", "--limit", "50", env=orphan_env)
    [row] = [line for line in listed.stdout.splitlines() if batch_id in line]
    assert "UNSETTLED" in row and "TIMED_OUT" in row and "RUNNING" not in row

    recovered = execbatch("recover", batch_id, "--json", env=stack_env)
    assert recovered.code == 0, recovered.stderr
    result = recovered.json()
    assert result["batch_id"] == batch_id
    assert result["status"] == "TIMED_OUT"
    assert [leg["status"] for leg in result["legs"]] == ["CANCELLED", "CANCELLED"]  # fenced
    after = execbatch("status", batch_id, "--json", env=stack_env)
    assert after.code == 0, after.stderr
    assert after.json() == result
    again = execbatch("recover", batch_id, "--json", env=stack_env)  # attaches, settles once
    assert again.code == 0 and again.json() == result
    cancelled = execbatch("cancel", batch_id, env=stack_env)  # the batch's status, settled
    assert cancelled.code == 1
    assert f"batch {batch_id} has already ended: TIMED_OUT" in cancelled.stderr

    not_timed_out = execbatch("recover", "batch-does-not-exist", env=stack_env)
    assert not_timed_out.code == 1
    assert "no batch with id 'batch-does-not-exist'" in not_timed_out.stderr


def test_unknown_batch_id_is_one_line(stack_env: dict[str, str]) -> None:
    for command in ("status", "cancel"):
        run = execbatch(command, "batch-does-not-exist", env=stack_env)
        assert run.code == 1
        assert run.stderr.strip().splitlines() == [run.stderr.strip()], run.stderr
        assert "no batch with id 'batch-does-not-exist'" in run.stderr


@pytest.mark.parametrize("args", [("status", "batch-x"), ("list",), ("cancel", "batch-x")])
def test_unreachable_server_is_one_line(args: tuple[str, ...]) -> None:
    run = execbatch(*args, env=clean_env(TEMPORAL_ADDRESS=UNREACHABLE))
    assert run.code == 1
    assert run.stderr.strip() == (
        f"error: cannot reach Temporal at {UNREACHABLE} (namespace default): connection "
        "refused. Is `execbatch dev` running, or TEMPORAL_ADDRESS set?"
    )


def test_submit_to_unreachable_server_after_validation(tmp_path: Path) -> None:
    path = _write(tmp_path, example_document("pair_trade", "unreachable"))
    run = execbatch("submit", str(path), env=clean_env(TEMPORAL_ADDRESS=UNREACHABLE))
    assert run.code == 1
    assert "cannot reach Temporal" in run.stderr


def test_worker_with_venue_down_is_one_line(dev_stack: DevStack) -> None:
    env = clean_env(
        TEMPORAL_ADDRESS=dev_stack.temporal_address,
        EXECBATCH_VENUE_URL="http://127.0.0.1:1",
    )
    run = execbatch("worker", "--venue-wait", "1", env=env)
    assert run.code == 1
    assert "venue at http://127.0.0.1:1 is not reachable" in run.stderr
    assert "Traceback" not in run.stderr
