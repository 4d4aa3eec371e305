"""End to end: the local Temporal dev server, the real venue process and a real worker.

Each test gets its own venue account, so positions are per test; the venue,
the dev server and the worker are shared by the module.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from execbatch.client.batch_client import BatchClient, Submission
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import BatchResult, ExecutionSettings
from execbatch.venue.adapters import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service import VenueProcess
from execbatch.venue.port.orders import VenueOrder
from execbatch.worker import build_worker

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
RECORD = os.environ.get("EXECBATCH_RECORD_HISTORIES") == "1"


@dataclass
class Stack:
    env: WorkflowEnvironment
    venue: PaperVenueAdmin
    task_queue: str

    def batches(self, settings: ExecutionSettings) -> BatchClient:
        return BatchClient(self.env.client, self.task_queue, settings=settings)


@dataclass
class Desk:
    """One test's account on the shared stack."""

    stack: Stack
    account: str
    settings: ExecutionSettings

    @property
    def venue(self) -> PaperVenueAdmin:
        return self.stack.venue

    async def submit(self, document: DirectiveDocument) -> Submission:
        return await self.stack.batches(self.settings).submit_document(document)

    async def run(self, document: DirectiveDocument, record_as: str | None = None) -> BatchResult:
        submission = await self.submit(document)
        result = await submission.handle.result()
        await self.record(submission, record_as)
        return result

    async def record(self, submission: Submission, name: str | None) -> None:
        """Keep the run's history for the replay tests (EXECBATCH_RECORD_HISTORIES=1)."""
        if RECORD and name:
            history = await submission.handle.fetch_history()
            (HISTORIES / f"{name}.json").write_text(
                json.dumps(json.loads(history.to_json()), indent=1) + "\n"
            )

    async def net(self) -> dict[str, Decimal]:
        positions = await self.venue.positions(self.account)
        return {p.symbol: p.quantity for p in positions if p.quantity != 0}

    async def orders(self) -> list[VenueOrder]:
        return await self.venue.orders(account=self.account)


@pytest.fixture(scope="module")
async def stack(
    dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    venue_process = VenueProcess(tmp_path_factory.mktemp("venue") / "venue.db")
    await venue_process.astart()
    adapter = PaperVenueAdapter(venue_process.base_url)
    admin = PaperVenueAdmin(venue_process.base_url)
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    try:
        async with build_worker(dev_server_env.client, queue, adapter):
            yield Stack(env=dev_server_env, venue=admin, task_queue=queue)
    finally:
        await adapter.aclose()
        await admin.aclose()
        await venue_process.aclose()


@pytest.fixture
async def desk(stack: Stack) -> Desk:
    account = f"acct-{uuid.uuid4().hex[:10]}"
    await stack.venue.fund_account(account, Decimal("1000000"))
    settings = ExecutionSettings(
        account=account, poll_interval_seconds=0.2, heartbeat_timeout_seconds=1
    )
    return Desk(stack=stack, account=account, settings=settings)
