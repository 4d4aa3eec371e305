"""Determinism over versions: recorded histories of every mode replay on today's code.

The histories in tests/histories/ were recorded from the end-to-end runs on the
dev server (``EXECBATCH_RECORD_HISTORIES=1 pytest tests/e2e``): every
mode, compensation, NEEDS_ATTENTION, deadline and both kinds of cancel. ``v3_*``
were recorded by the code with the venue-rules and pre-trade-risk patches asked one
after the other, ``v4_*`` by the code that fetches both at once in two local
activities (``pre-trade-checks-together``), ``v5_*`` by the code that fetches both in
one (``pre-trade-checks-in-one-call``). A workflow change that would break running batches
fails here, in CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from execbatch.temporal.converter import build_data_converter
from execbatch.workflows.batch_workflow import ExecutionBatchWorkflow
from tests.replay.changed_workflow import PausingBatchWorkflow

HISTORIES = sorted((Path(__file__).resolve().parents[1] / "histories").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_histories_cover_every_mode_and_outcome() -> None:
    names = {path.stem for path in HISTORIES}
    for expected in (
        "scenario_flash_crash_close",
        "scenario_pair_trade",
        "scenario_rotation",
        "coordinated_rejected_compensated",
        "coordinated_needs_attention",
        "coordinated_timed_out",
        "coordinated_cancelled_by_update",
        "coordinated_cancelled_by_temporal",
        "sequential_stopped",
        "coordinated_recovered_after_execution_timeout",
    ):
        assert expected in names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_on_current_code(path: Path) -> None:
    replayer = Replayer(workflows=[ExecutionBatchWorkflow], data_converter=build_data_converter())
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.stem}: {result.replay_failure}"


async def test_a_non_deterministic_change_is_caught() -> None:
    replayer = Replayer(workflows=[PausingBatchWorkflow], data_converter=build_data_converter())
    result = await replayer.replay_workflow(
        load(HISTORIES[0].with_name("scenario_pair_trade.json")), raise_on_replay_failure=False
    )
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()
