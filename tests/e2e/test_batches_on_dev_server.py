"""The workflow's scenarios end to end: dev server, real venue process, real worker.

Assertions are on the venue's own state: net positions (zero after a
compensated COORDINATED batch) and exactly one order per client order id.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import pytest

from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus, OrderType
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommand
from tests.e2e.conftest import Desk
from tests.workflows.conftest import load_example, with_policy

pytestmark = pytest.mark.devserver


def resting(document: DirectiveDocument, command_id: str, limit_price: str) -> DirectiveDocument:
    """Turn one leg into a limit order far from the market, so it rests."""
    commands = tuple(
        c.model_copy(update={"order_type": OrderType.LIMIT, "limit_price": Decimal(limit_price)})
        if c.command_id == command_id
        else c
        for c in document.commands
    )
    checked = tuple(ExecutionCommand.model_validate(c.model_dump()) for c in commands)
    return document.model_copy(update={"commands": checked})


def batch_id(document: DirectiveDocument) -> str:
    return f"batch-{document.directive.directive_id}"


async def assert_one_order_per_client_id(desk: Desk) -> None:
    counts = Counter(order.client_order_id for order in await desk.orders())
    assert counts and max(counts.values()) == 1


# ------------------------------------------------------------------ the ADR's four scenarios


@pytest.mark.parametrize(
    ("example", "net"),
    [
        ("flash_crash_close", {"AAPL": Decimal(-50), "NVDA": Decimal(-120), "TSLA": Decimal(-30)}),
        ("pair_trade", {"AAPL": Decimal(100), "MSFT": Decimal(-46)}),
        ("dca", {"BTC/USD": Decimal("0.15")}),
        ("rotation", {"SPY": Decimal(-20), "QQQ": Decimal(23)}),
    ],
)
async def test_adr_scenario(desk: Desk, example: str, net: dict[str, Decimal]) -> None:
    result = await desk.run(load_example(example), record_as=f"scenario_{example}")
    assert result.status is BatchStatus.COMPLETED
    assert await desk.net() == net
    await assert_one_order_per_client_id(desk)


# ------------------------------------------------------------------ failure paths


async def test_coordinated_rejected_leg_is_compensated_to_net_zero(desk: Desk) -> None:
    document = load_example("pair_trade")
    await desk.venue.add_fault(
        kind="reject",
        error="INSUFFICIENT_FUNDS",
        client_order_id_prefix=f"{batch_id(document)}:c2:",
    )
    result = await desk.run(document, record_as="coordinated_rejected_compensated")
    assert result.status is BatchStatus.COMPENSATED
    assert [leg.status for leg in result.legs] == [LegStatus.COMPENSATED, LegStatus.REJECTED]
    assert await desk.net() == {}
    await assert_one_order_per_client_id(desk)


async def test_independent_rejected_leg_leaves_the_others(desk: Desk) -> None:
    document = load_example("flash_crash_close")
    await desk.venue.add_fault(
        kind="reject", error="UNKNOWN_SYMBOL", client_order_id_prefix=f"{batch_id(document)}:c2:"
    )
    result = await desk.run(document, record_as="independent_rejected")
    assert result.status is BatchStatus.PARTIALLY_COMPLETED
    assert await desk.net() == {"AAPL": Decimal(-50), "TSLA": Decimal(-30)}


async def test_sequential_rejected_leg_stops_the_rotation(desk: Desk) -> None:
    document = load_example("rotation")
    await desk.venue.add_fault(
        kind="reject",
        error="INSUFFICIENT_FUNDS",
        client_order_id_prefix=f"{batch_id(document)}:c2:",
    )
    result = await desk.run(document, record_as="sequential_stopped")
    assert result.status is BatchStatus.STOPPED
    assert await desk.net() == {"SPY": Decimal(-20)}


async def test_coordinated_partial_fill_reverts_exactly_what_filled(desk: Desk) -> None:
    document = load_example("pair_trade")
    await desk.venue.add_fault(
        kind="partial_fill", fraction="0.5", client_order_id_prefix=f"{batch_id(document)}:c2:place"
    )
    result = await desk.run(document, record_as="coordinated_partial_fill")
    assert result.status is BatchStatus.COMPENSATED
    assert result.legs[1].filled_quantity == Decimal(23)
    assert result.legs[1].compensated_quantity == Decimal(23)
    assert await desk.net() == {}


async def test_failed_compensation_needs_attention(desk: Desk) -> None:
    document = load_example("pair_trade")
    prefix = batch_id(document)
    await desk.venue.add_fault(
        kind="reject", error="INVALID_ORDER", client_order_id_prefix=f"{prefix}:c2:"
    )
    await desk.venue.add_fault(
        kind="reject", error="INSUFFICIENT_FUNDS", client_order_id_prefix=f"{prefix}:c1:revert"
    )
    result = await desk.run(document, record_as="coordinated_needs_attention")
    assert result.status is BatchStatus.NEEDS_ATTENTION
    assert [(leg.command_id, leg.exposed_quantity) for leg in result.exposed_legs] == [("c1", 100)]
    assert await desk.net() == {"AAPL": Decimal(100)}  # exactly what the result names


async def test_deadline_while_a_limit_order_rests(desk: Desk) -> None:
    document = resting(
        with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, 6), "c2", "999"
    )
    submission = await desk.submit(document)
    result = await submission.handle.result()
    await desk.record(submission, "coordinated_timed_out")
    description = await submission.handle.describe()
    assert result.status is BatchStatus.TIMED_OUT
    assert description.status is not None and description.status.name == "COMPLETED"
    assert [leg.status for leg in result.legs] == [LegStatus.COMPENSATED, LegStatus.CANCELLED]
    assert await desk.net() == {}
    statuses = {o.client_order_id: o.status.value for o in await desk.orders()}
    assert statuses[f"{batch_id(document)}:c2:place"] == "CANCELED"


@pytest.mark.parametrize("how", ["update", "temporal"])
async def test_cancel_winds_down_and_compensates(desk: Desk, how: str) -> None:
    document = resting(load_example("pair_trade"), "c2", "999")
    submission = await desk.submit(document)
    await _until_order_exists(desk, f"{batch_id(document)}:c2:place")
    if how == "update":
        await desk.stack.batches(desk.settings).request_cancel(
            submission.batch.batch_id, "desk closed"
        )
    else:
        await submission.handle.cancel()
    result = await submission.handle.result()
    await desk.record(submission, f"coordinated_cancelled_by_{how}")
    assert result.status is BatchStatus.CANCELLED
    assert await desk.net() == {}


async def test_duplicate_submission_runs_once(desk: Desk) -> None:
    document = resting(
        with_policy(load_example("pair_trade"), BatchExecutionMode.INDEPENDENT, 4), "c2", "999"
    )
    first = await desk.submit(document)
    second = await desk.submit(document)
    assert second.attached and second.handle.id == first.handle.id
    first_result = await first.handle.result()
    third = await desk.submit(document)
    assert third.attached
    assert (await third.handle.result()) == first_result
    assert first_result.status is BatchStatus.TIMED_OUT
    assert await desk.net() == {"AAPL": Decimal(100)}
    await assert_one_order_per_client_id(desk)
    assert len(await desk.orders()) == 2


async def _until_order_exists(desk: Desk, client_order_id: str) -> None:
    async with asyncio.timeout(15):
        while client_order_id not in {o.client_order_id for o in await desk.orders()}:
            await asyncio.sleep(0.1)
