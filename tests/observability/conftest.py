"""An instrumented stack: dev server, venue process, an ``EmbeddedExecutor`` whose
client reports the Temporal SDK's metrics, and its ``/metrics`` on a free port."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from execbatch.client.embedded import EmbeddedExecutor
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import BatchResult, ExecutionSettings
from execbatch.observability.endpoint import stop_metrics, telemetry_runtime
from execbatch.temporal.converter import build_data_converter
from execbatch.venue.adapters import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service import VenueProcess
from execbatch.venue.paper.service.app import create_app
from execbatch.venue.paper.service.runner import build_settings


@dataclass
class ObservedStack:
    client: Client
    executor: EmbeddedExecutor
    venue: PaperVenueAdmin
    account: str
    metrics_port: int

    async def run(self, document: DirectiveDocument) -> BatchResult:
        submission = await self.executor.batches.submit_document(document)
        return await submission.handle.result()


@pytest.fixture(scope="module")
async def observed(
    dev_server_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ObservedStack]:
    venue_process = VenueProcess(tmp_path_factory.mktemp("venue") / "venue.db")
    await venue_process.astart()
    adapter = PaperVenueAdapter(venue_process.base_url)
    admin = PaperVenueAdmin(venue_process.base_url)
    target = dev_server_env.client.service_client.config.target_host
    client = await Client.connect(
        target, runtime=telemetry_runtime(), data_converter=build_data_converter()
    )
    account = f"obs-{uuid.uuid4().hex[:8]}"
    await admin.fund_account(account, Decimal("1000000"))
    settings = ExecutionSettings(
        account=account, poll_interval_seconds=0.2, heartbeat_timeout_seconds=1
    )
    executor = EmbeddedExecutor(
        client,
        f"obs-{uuid.uuid4().hex[:8]}",
        adapter,
        settings=settings,
        recovery_interval=timedelta(seconds=1),
        metrics_port=0,
    )
    try:
        async with executor:
            assert executor.metrics_port
            yield ObservedStack(client, executor, admin, account, executor.metrics_port)
    finally:
        if executor.metrics_port:
            stop_metrics(executor.metrics_port)
        await adapter.aclose()
        await admin.aclose()
        await venue_process.aclose()


@pytest.fixture
async def venue_app(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The paper venue in this process (its spans reach the same exporter)."""
    app = create_app(build_settings(db_path=tmp_path / "venue.db"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://venue") as http:
            yield http
