"""EmbeddedExecutor: a worker in the submitting process, with standalone workers as failover."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from temporalio.testing import WorkflowEnvironment

from execbatch.client.embedded import EmbeddedExecutor
from execbatch.core.enums import BatchStatus
from execbatch.dtos.execution import ExecutionSettings
from execbatch.venue.adapters import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service import VenueProcess
from execbatch.worker import build_worker
from tests.workflows.conftest import load_example


@pytest.fixture(scope="module")
async def venue(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[VenueProcess]:
    process = VenueProcess(tmp_path_factory.mktemp("venue") / "venue.db")
    await process.astart()
    try:
        yield process
    finally:
        await process.aclose()


@pytest.fixture
async def settings(venue: VenueProcess) -> ExecutionSettings:
    account = f"acct-{uuid.uuid4().hex[:10]}"
    async with PaperVenueAdmin(venue.base_url) as admin:
        await admin.fund_account(account, Decimal("1000000"))
    return ExecutionSettings(account=account, poll_interval_seconds=0.2)


async def test_runs_batches_without_any_other_worker(
    dev_server_env: WorkflowEnvironment, venue: VenueProcess, settings: ExecutionSettings
) -> None:
    queue = f"embedded-{uuid.uuid4().hex[:8]}"
    adapter = PaperVenueAdapter(venue.base_url)
    try:
        async with EmbeddedExecutor(
            dev_server_env.client, queue, adapter, settings=settings
        ) as executor:
            for _ in range(2):
                submission = await executor.batches.submit_document(load_example("pair_trade"))
                result = await submission.handle.result()
                assert result.status is BatchStatus.COMPLETED
    finally:
        await adapter.aclose()


async def test_standalone_worker_takes_over_once_it_stops(
    dev_server_env: WorkflowEnvironment, venue: VenueProcess, settings: ExecutionSettings
) -> None:
    queue = f"embedded-{uuid.uuid4().hex[:8]}"
    adapter = PaperVenueAdapter(venue.base_url)
    try:
        executor = EmbeddedExecutor(dev_server_env.client, queue, adapter, settings=settings)
        async with executor:
            pass
        # The same client still asks for an eager start; with no worker of its own
        # the batch goes on the task queue, where a standalone worker picks it up.
        async with build_worker(dev_server_env.client, queue, adapter):
            submission = await executor.batches.submit_document(load_example("pair_trade"))
            result = await submission.handle.result()
        assert result.status is BatchStatus.COMPLETED
    finally:
        await adapter.aclose()
