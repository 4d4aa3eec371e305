"""The Temporal Web UI shows a compensated batch the way an operator needs to see it.

A real dev stack, a COORDINATED pair trade whose second leg the venue rejects,
then the workflow's page in headless Chromium (Debian's, never a downloaded
one): its outcome at the top of the page `execbatch status` links (status,
reason, exposed legs), the activity summaries ("revert leg 1: ..."), the result
with COMPENSATED, and the BatchStatus search attribute; the list with the
BatchStatus column and the NEEDS_ATTENTION filter link `execbatch list` prints.
Screenshots go to docs/ with ``./run screenshots``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError

from execbatch.cli.batches import NEEDS_A_PERSON
from execbatch.cli.common import outcome_url, workflows_list_url
from execbatch.client.batch_client import BatchClient
from execbatch.config.connection import connect
from execbatch.core.enums import BatchStatus, OrderType
from execbatch.core.order_ids import placement_order_id
from execbatch.core.workflow_ids import recovery_workflow_id
from execbatch.devstack import DevStack
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import BatchResult
from execbatch.venue.adapters.paper import PaperVenueAdmin
from tests.browser import CHROMIUM, CHROMIUM_ARGS, screenshot_dir

ROOT = Path(__file__).resolve().parents[2]
DOCS = screenshot_dir()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.devserver,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    with DevStack.on_free_ports(tmp_path_factory.mktemp("webui")) as running:
        yield running


async def _compensated_pair_trade(stack: DevStack) -> tuple[BatchResult, str | None]:
    document = DirectiveDocument.from_file(ROOT / "examples" / "pair_trade.json")
    directive = document.directive.model_copy(
        update={"directive_id": f"pair-aapl-msft-rejected-{uuid.uuid4().hex[:6]}"}
    )
    document = document.model_copy(update={"directive": directive})
    config = stack.config()
    batches = BatchClient(await connect(config), config.task_queue)
    batch_id = f"batch-{directive.directive_id}"
    async with PaperVenueAdmin(config.venue_url) as admin:
        await admin.add_fault(
            kind="reject",
            client_order_id_prefix=placement_order_id(batch_id, "c2"),
            error="INVALID_ORDER",
            message="the venue refuses the MSFT leg",
        )
    submission = await batches.submit_document(document)
    result = await submission.handle.result()
    return result, (await submission.handle.describe()).run_id


def test_compensated_batch_in_the_web_ui(stack: DevStack) -> None:
    from playwright.sync_api import expect, sync_playwright

    result, run_id = asyncio.run(_compensated_pair_trade(stack))
    assert result.status is BatchStatus.COMPENSATED

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(
                f"{stack.ui_url}/namespaces/{stack.namespace}/workflows/{result.batch_id}",
                wait_until="networkidle",
            )
            expect(page.get_by_text(result.batch_id).first).to_be_visible(timeout=30_000)
            # The activity summaries on the timeline.
            expect(page.get_by_text("revert leg 1: SELL 100 AAPL").first).to_be_visible(
                timeout=30_000
            )
            # The result panel.
            expect(page.get_by_text('"status": "COMPENSATED"').first).to_be_visible()
            expect(page.get_by_text('"compensated_quantity": "100"').first).to_be_visible()

            # The outcome at the top of its User Metadata tab, where `execbatch status`
            # links a closed batch: status, reason, exposed legs, no JSON to open.
            page.goto(
                outcome_url(stack.config(), result.batch_id, run_id), wait_until="networkidle"
            )
            details = page.frame_locator("iframe#user-metadata-current-details")
            expect(details.get_by_text("Outcome: COMPENSATED").first).to_be_visible(timeout=30_000)
            expect(details.get_by_text("leg c2 REJECTED").first).to_be_visible()
            expect(details.get_by_text("exposed: none").first).to_be_visible()
            DOCS.mkdir(exist_ok=True)
            page.screenshot(path=str(DOCS / "web-ui-compensated.png"), full_page=True)
            page.goto(
                f"{stack.ui_url}/namespaces/{stack.namespace}/workflows/{result.batch_id}",
                wait_until="networkidle",
            )

            # Every placement's summary, in the event history: a placement is a local
            # activity, whose timeline bar Web UI 2.54 labels with its type only, so
            # its marker event carries the summary (user metadata) shown here.
            page.get_by_role("tab", name="Event History").click()
            for summary in ("place BUY 100 AAPL (leg 1/2)", "place SELL 46 MSFT (leg 2/2)"):
                expect(page.get_by_text(summary).first).to_be_visible(timeout=15_000)
            expect(page.get_by_text("revert leg 1: SELL 100 AAPL").first).to_be_visible()
            page.get_by_text("place BUY 100 AAPL (leg 1/2)").first.scroll_into_view_if_needed()
            page.screenshot(path=str(DOCS / "web-ui-placements.png"))
            page.get_by_role("tab", name="Timeline").click()

            # The search attributes operators filter by.
            page.get_by_role("tab", name="Search Attributes").click()
            expect(page.get_by_text("BatchStatus").first).to_be_visible(timeout=15_000)
            expect(page.get_by_text("COMPENSATED").first).to_be_visible()
            expect(page.get_by_text("BatchMode").first).to_be_visible()
            expect(page.get_by_text("COORDINATED").first).to_be_visible()
            page.screenshot(path=str(DOCS / "web-ui-search-attributes.png"), full_page=True)
        finally:
            browser.close()


async def _recovered_pair_trade(stack: DevStack) -> BatchResult:
    """A pair trade Temporal's execution timeout ended (no worker on its queue), recovered."""
    document = DirectiveDocument.from_file(ROOT / "examples" / "pair_trade.json")
    policy = document.directive.execution_policy
    assert policy is not None
    directive = document.directive.model_copy(
        update={
            "directive_id": f"pair-aapl-msft-timed-out-{uuid.uuid4().hex[:6]}",
            "execution_policy": policy.model_copy(update={"timeout_seconds": 2}),
        }
    )
    document = document.model_copy(update={"directive": directive})
    config = stack.config()
    client = await connect(config)
    orphan = BatchClient(client, f"nobody-{directive.directive_id}")
    submission = await orphan.submit_document(document)
    with contextlib.suppress(WorkflowFailureError):
        await submission.handle.result()
    recovery = await BatchClient(client, config.task_queue).recover(submission.batch.batch_id)
    return await recovery.handle.result()


def test_recovery_run_in_the_web_ui(stack: DevStack) -> None:
    from playwright.sync_api import expect, sync_playwright

    result = asyncio.run(_recovered_pair_trade(stack))
    assert result.status is BatchStatus.TIMED_OUT
    recovery_id = recovery_workflow_id(result.batch_id)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(
                f"{stack.ui_url}/namespaces/{stack.namespace}/workflows/{recovery_id}",
                wait_until="networkidle",
            )
            expect(page.get_by_text(recovery_id).first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("cancel leg 1: BUY 100 AAPL").first).to_be_visible(
                timeout=30_000
            )
            expect(page.get_by_text('"status": "TIMED_OUT"').first).to_be_visible()
            page.screenshot(path=str(DOCS / "web-ui-recovery.png"), full_page=True)
        finally:
            browser.close()


async def _outcomes(stack: DevStack) -> dict[str, str]:
    """One batch of each outcome a trader must tell apart at a glance; workflow id ->
    the BatchStatus its row must show."""
    config = stack.config()
    client = await connect(config)
    batches = BatchClient(client, config.task_queue)
    tag = uuid.uuid4().hex[:6]

    def pair(name: str) -> DirectiveDocument:
        document = DirectiveDocument.from_file(ROOT / "examples" / "pair_trade.json")
        directive = document.directive.model_copy(update={"directive_id": f"{name}-{tag}"})
        return document.model_copy(update={"directive": directive})

    async with PaperVenueAdmin(config.venue_url) as admin:
        compensated, attention = pair("compensated"), pair("needs-attention")
        for document in (compensated, attention):
            await admin.add_fault(
                kind="reject",
                client_order_id_prefix=placement_order_id(
                    f"batch-{document.directive.directive_id}", "c2"
                ),
                error="INVALID_ORDER",
            )
        # The revert of the needs-attention batch's filled leg is refused too.
        await admin.add_fault(
            kind="reject",
            client_order_id_prefix=f"batch-{attention.directive.directive_id}:c1:revert",
            error="INVALID_ORDER",
        )
        expected: dict[str, str] = {}
        for document in (pair("completed"), compensated, attention):
            result = await (await batches.submit_document(document)).handle.result()
            expected[result.batch_id] = result.status.value
        terminated = await batches.submit_document(
            pair("terminated").model_copy(
                update={
                    "commands": tuple(
                        c.model_copy(
                            update={"order_type": OrderType.LIMIT, "limit_price": Decimal("999")}
                        )
                        if c.command_id == "c2"
                        else c
                        for c in pair("terminated").commands
                    )
                }
            )
        )
        await asyncio.sleep(2)
        await terminated.handle.terminate(reason="operator")
        settled = await batches.result(terminated.batch.batch_id)
        expected[recovery_workflow_id(terminated.batch.batch_id)] = settled.status.value
    assert sorted(expected.values()) == [
        "COMPENSATED",
        "COMPLETED",
        "NEEDS_ATTENTION",
        "TERMINATED",
    ], expected
    return expected


def test_outcomes_at_a_glance_in_the_workflow_list(stack: DevStack) -> None:
    """Temporal's own mechanism: the BatchStatus search attribute as a list column
    (Configure Columns), so a compensated, needs-attention or terminated batch never
    looks like a completed one; its page shows the status in its search attributes."""
    from playwright.sync_api import expect, sync_playwright

    expected = asyncio.run(_outcomes(stack))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(
                f"{stack.ui_url}/namespaces/{stack.namespace}/workflows", wait_until="networkidle"
            )
            expect(page.get_by_text(next(iter(expected))).first).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Configure Columns").click()
            page.get_by_role("button", name="Add BatchStatus column").click()
            for name in ("Run ID", "Type"):
                page.get_by_role("button", name=f"Remove {name} column").click()
            for _ in range(4):
                page.get_by_role("button", name="Move BatchStatus column up").click()
            page.get_by_role("button", name="Close Workflows Table configuration").click()
            for workflow_id, status in expected.items():
                row = page.get_by_role("row").filter(has_text=workflow_id).first
                expect(row).to_contain_text(status, timeout=15_000)
            page.wait_for_timeout(600)  # the drawer's closing animation
            page.screenshot(path=str(DOCS / "web-ui-outcomes.png"), full_page=True)

            # The link `execbatch list` prints: only the batches that need a person.
            page.goto(workflows_list_url(stack.config(), NEEDS_A_PERSON), wait_until="networkidle")
            [attention] = [w for w, status in expected.items() if status == "NEEDS_ATTENTION"]
            row = page.get_by_role("row").filter(has_text=attention).first
            expect(row).to_contain_text("NEEDS_ATTENTION", timeout=30_000)
            for workflow_id in expected:
                if workflow_id != attention:
                    expect(page.get_by_role("row").filter(has_text=workflow_id)).to_have_count(0)
            page.screenshot(path=str(DOCS / "web-ui-needs-attention.png"), full_page=True)

            # From there to the batch: its outcome names the exposed leg and who acts.
            page.get_by_role("link", name=attention).first.click()
            page.get_by_role("tab", name="User Metadata").click()
            details = page.frame_locator("iframe#user-metadata-current-details")
            expect(details.get_by_text("Outcome: NEEDS_ATTENTION").first).to_be_visible(
                timeout=30_000
            )
            expect(details.get_by_text("leg c1: 100 AAPL").first).to_be_visible()
            expect(details.get_by_text("a person must flatten").first).to_be_visible()
        finally:
            browser.close()
