"""A rolling deploy with Worker Versioning on the dev server: batches started on
version 1 (resting limit orders keep them open) finish on version 1 after version 2
became current; new batches run on version 2, whose results are visibly marked."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from execbatch.client.batch_client import BatchClient
from execbatch.config.versioning import current_build_id, set_current_version
from execbatch.core.enums import BatchStatus, OrderType
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommand, ExecutionSettings
from execbatch.temporal.converter import build_data_converter
from execbatch.testing.documents import batch_id_of
from execbatch.venue.adapters import PaperVenueAdapter, PaperVenueAdmin
from execbatch.worker import build_worker
from tests.observability.v2_workflow import V2_MARK, BatchWorkflowV2
from tests.workflows.conftest import load_example

pytestmark = pytest.mark.devserver


def resting_buy(document: DirectiveDocument) -> DirectiveDocument:
    """Leg c1 (BUY AAPL) as a limit at 150, under the market: it rests until the price drops."""
    commands = tuple(
        ExecutionCommand.model_validate(
            {**c.model_dump(), "order_type": OrderType.LIMIT, "limit_price": "150"}
        )
        if c.command_id == "c1"
        else c
        for c in document.commands
    )
    return document.model_copy(update={"commands": commands})


async def make_current(client: Client, version: WorkerDeploymentVersion) -> None:
    """The server knows a version once its worker polled: retry for a few seconds."""
    for _ in range(80):
        try:
            await set_current_version(client, version)
            return
        except RPCError:
            await asyncio.sleep(0.25)
    await set_current_version(client, version)


async def pinned_build_id(handle: WorkflowHandle[object, object]) -> tuple[str, int]:
    """The version the run is pinned to, once the server recorded it: at the end of the
    run's first workflow task, which may come after that task's placements landed."""
    for _ in range(100):
        info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
        if info.deployment_version.build_id:
            break
        await asyncio.sleep(0.1)
    return info.deployment_version.build_id, info.behavior


async def test_open_batches_finish_on_v1_new_ones_run_on_v2(
    dev_server_env: WorkflowEnvironment, venue_app: httpx.AsyncClient
) -> None:
    target = dev_server_env.client.service_client.config.target_host
    client = await Client.connect(target, data_converter=build_data_converter())
    deployment = f"execbatch-{uuid.uuid4().hex[:6]}"
    v1 = WorkerDeploymentVersion(deployment_name=deployment, build_id="v1")
    v2 = WorkerDeploymentVersion(deployment_name=deployment, build_id="v2")
    queue = f"deploy-{uuid.uuid4().hex[:8]}"
    account = f"deploy-{uuid.uuid4().hex[:8]}"
    admin = PaperVenueAdmin("http://venue", client=venue_app)
    await admin.set_prices({"AAPL": "187.50", "MSFT": "410.10"})
    await admin.fund_account(account, Decimal("10000000"))
    adapter = PaperVenueAdapter("http://venue", account=account, client=venue_app)
    settings = ExecutionSettings(account=account, poll_interval_seconds=0.2)
    batches = BatchClient(client, queue, settings=settings)
    out: list[str] = []

    async with build_worker(client, queue, adapter, version=v1):
        await make_current(client, v1)
        out.append(
            f"1. version v1 polling; current version: {await current_build_id(client, deployment)}"
        )
        open_docs = [resting_buy(load_example("pair_trade")) for _ in range(2)]
        open_handles = [(await batches.submit_document(d)).handle for d in open_docs]
        for document in open_docs:
            placed = f"{batch_id_of(document)}:c1:place"
            for _ in range(100):
                orders = await admin.orders(account=account)
                if any(o.client_order_id == placed for o in orders):
                    break
                await asyncio.sleep(0.1)
        for handle in open_handles:
            build_id, behavior = await pinned_build_id(handle)
            assert (build_id, behavior) == ("v1", VersioningBehavior.PINNED.value)
        out.append(
            f"2. {len(open_handles)} batches open on v1 (resting BUY AAPL LIMIT 150), PINNED"
        )

        async with build_worker(client, queue, adapter, version=v2, workflows=[BatchWorkflowV2]):
            await make_current(client, v2)
            assert await current_build_id(client, deployment) == "v2"
            out.append("3. version v2 polling beside v1; set-current-version v2")

            fresh = load_example("pair_trade")
            fresh_result = await (await batches.submit_document(fresh)).handle.result()
            fresh_build, _ = await pinned_build_id(client.get_workflow_handle(batch_id_of(fresh)))
            assert fresh_result.status is BatchStatus.COMPLETED
            assert fresh_build == "v2" and V2_MARK in (fresh_result.reason or "")
            out.append(
                f"4. new batch ran on {fresh_build}: {fresh_result.status.value}, "
                f"reason {fresh_result.reason!r}"
            )

            await admin.set_prices({"AAPL": "149"})  # the resting limits fill
            for handle in open_handles:
                result = await handle.result()
                build_id, _ = await pinned_build_id(handle)
                assert result.status is BatchStatus.COMPLETED
                assert build_id == "v1" and V2_MARK not in (result.reason or "")
                out.append(
                    f"5. open batch {handle.id} finished on {build_id}: "
                    f"{result.status.value}, reason {result.reason!r}"
                )
    print("\n" + "\n".join(out))
