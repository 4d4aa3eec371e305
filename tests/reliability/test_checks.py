"""The chaos checks themselves: each invariant catches what it claims to catch.

Synthetic venue orders, results and request logs (no servers): a checker that
never fires would make every chaos run pass.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from execbatch.core.enums import (
    BatchExecutionMode,
    BatchStatus,
    LegStatus,
    OrderSide,
    OrderType,
    TimeInForce,
    VenueOrderStatus,
)
from execbatch.dtos.execution import BatchResult, LegResult
from execbatch.venue.port.orders import VenueOrder
from tests.reliability.chaos import checks
from tests.reliability.chaos.proxy import AlpacaDialect, BinanceDialect, Exchange
from tests.reliability.chaos.report import ChaosReport
from tests.reliability.chaos.scenario import PlannedBatch, plan_batches
from tests.reliability.chaos.trading import (
    PLACED_AFTER_HALT,
    HaltWindow,
    check_placements_after_halts,
)
from tests.reliability.chaos.venues import chaos_venue, id_mapper

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _coordinated() -> PlannedBatch:
    plan = next(p for p in plan_batches(12, 3, "t") if p.mode is BatchExecutionMode.COORDINATED)
    return plan


def _order(
    cid: str, side: OrderSide, qty: Decimal, filled: Decimal, status: VenueOrderStatus
) -> VenueOrder:
    return VenueOrder(
        client_order_id=cid,
        venue_order_id="V0000000001",
        account="default",
        symbol="AAPL",
        side=side,
        order_type=OrderType.MARKET,
        quantity=qty,
        time_in_force=TimeInForce.GTC,
        status=status,
        filled_quantity=filled,
        created_at=NOW,
        updated_at=NOW,
    )


def _result(
    plan: PlannedBatch,
    status: BatchStatus,
    legs: dict[str, tuple[LegStatus, Decimal, Decimal, Decimal]],
) -> BatchResult:
    out = []
    for c in plan.document.commands:
        leg_status, filled, compensated, exposed = legs[c.command_id]
        out.append(
            LegResult(
                command_id=c.command_id,
                plan_id=c.plan_id,
                symbol=c.symbol,
                side=c.side,
                order_type=c.order_type,
                quantity=c.quantity,
                status=leg_status,
                filled_quantity=filled,
                compensated_quantity=compensated,
                exposed_quantity=exposed,
            )
        )
    return BatchResult(
        batch_id=plan.batch_id, mode=plan.mode, status=status, legs=tuple(out), reason="r"
    )


def _run(plan: PlannedBatch, result: BatchResult | str, orders: list[VenueOrder]) -> ChaosReport:
    report = ChaosReport()
    checks.check_batches([plan], {plan.batch_id: result}, orders, report)
    return report


def _fill_first_reject_second(plan: PlannedBatch) -> tuple[list[VenueOrder], str, str]:
    first, second = plan.document.commands[0], plan.document.commands[1]
    orders = [
        _order(
            f"{plan.batch_id}:{first.command_id}:place",
            first.side,
            first.quantity,
            first.quantity,
            VenueOrderStatus.FILLED,
        ),
        _order(
            f"{plan.batch_id}:{second.command_id}:place",
            second.side,
            second.quantity,
            Decimal(0),
            VenueOrderStatus.REJECTED,
        ),
    ]
    return orders, first.command_id, second.command_id


def _legs(
    plan: PlannedBatch, **overrides: tuple[LegStatus, Decimal, Decimal, Decimal]
) -> dict[str, tuple[LegStatus, Decimal, Decimal, Decimal]]:
    legs = {
        c.command_id: (LegStatus.SKIPPED, Decimal(0), Decimal(0), Decimal(0))
        for c in plan.document.commands
    }
    legs.update(overrides)
    return legs


def test_a_compensated_pair_passes() -> None:
    plan = _coordinated()
    orders, first, second = _fill_first_reject_second(plan)
    qty = plan.document.commands[0].quantity
    command = plan.document.commands[0]
    orders.append(
        _order(
            f"{plan.batch_id}:{first}:revert-1",
            command.side.opposite,
            qty,
            qty,
            VenueOrderStatus.FILLED,
        )
    )
    legs = _legs(
        plan,
        **{
            first: (LegStatus.COMPENSATED, qty, qty, Decimal(0)),
            second: (LegStatus.REJECTED, Decimal(0), Decimal(0), Decimal(0)),
        },
    )
    report = _run(plan, _result(plan, BatchStatus.COMPENSATED, legs), orders)
    assert report.ok, report.violation_details()


def test_an_unreverted_fill_in_a_failed_coordinated_batch_is_an_unflagged_exposure() -> None:
    plan = _coordinated()
    orders, first, second = _fill_first_reject_second(plan)
    qty = plan.document.commands[0].quantity
    legs = _legs(
        plan,
        **{
            first: (LegStatus.FILLED, qty, Decimal(0), Decimal(0)),
            second: (LegStatus.REJECTED, Decimal(0), Decimal(0), Decimal(0)),
        },
    )
    report = _run(plan, _result(plan, BatchStatus.COMPENSATED, legs), orders)
    assert report.count(checks.EXPOSED) == 1


def test_the_same_exposure_flagged_as_needs_attention_passes() -> None:
    plan = _coordinated()
    orders, first, second = _fill_first_reject_second(plan)
    qty = plan.document.commands[0].quantity
    legs = _legs(
        plan,
        **{
            first: (LegStatus.FILLED, qty, Decimal(0), qty),
            second: (LegStatus.REJECTED, Decimal(0), Decimal(0), Decimal(0)),
        },
    )
    result = _result(plan, BatchStatus.NEEDS_ATTENTION, legs).model_copy(
        update={"reason": f"leg {first}: exposed"}
    )
    report = _run(plan, result, orders)
    assert report.ok, report.violation_details()


def test_over_revert_and_wrong_result_quantities_are_caught() -> None:
    plan = _coordinated()
    orders, first, second = _fill_first_reject_second(plan)
    command = plan.document.commands[0]
    qty = command.quantity
    orders += [
        _order(
            f"{plan.batch_id}:{first}:revert-1",
            command.side.opposite,
            qty,
            qty,
            VenueOrderStatus.FILLED,
        ),
        _order(
            f"{plan.batch_id}:{first}:revert-2",
            command.side.opposite,
            qty,
            qty,
            VenueOrderStatus.FILLED,
        ),
    ]
    legs = _legs(
        plan,
        **{
            first: (LegStatus.COMPENSATED, qty, qty, Decimal(0)),
            second: (LegStatus.REJECTED, Decimal(0), Decimal(0), Decimal(0)),
        },
    )
    report = _run(plan, _result(plan, BatchStatus.COMPENSATED, legs), orders)
    assert report.count(checks.DUPLICATES) == 1
    assert report.count(checks.INCONSISTENT) == 1  # compensated qty vs 2x revert fills


def test_a_lost_batch_and_its_open_leg_are_reported() -> None:
    plan = _coordinated()
    orders, _first, _second = _fill_first_reject_second(plan)
    report = _run(plan, "workflow timed out", orders)
    assert report.count(checks.LOST) == 1
    assert report.count(checks.EXPOSED) == 1


def _exchange(
    cid: str, at: float, status: int, error: str | None = None, path: str = "/orders"
) -> Exchange:
    return Exchange(
        started=at,
        finished=at + 0.01,
        method="POST" if path == "/orders" else "GET",
        path=path,
        client_order_id=cid,
        status=status,
        error=error,
    )


def _cancelled(cid: str, at: float) -> Exchange:
    """The venue answered a cancel of ``cid`` (the leg's settlement)."""
    return Exchange(
        started=at,
        finished=at + 0.01,
        method="POST",
        path=f"/orders/{cid}/cancel",
        client_order_id=cid,
        status=200,
        error=None,
    )


def test_a_rejection_sent_again_is_caught_unless_a_crash_explains_it() -> None:
    log = [
        _exchange("b:c1:place", 1.0, 422, "INSUFFICIENT_FUNDS"),
        _exchange("b:c1:place", 2.0, 422, "INSUFFICIENT_FUNDS"),
    ]
    report = ChaosReport()
    checks.check_requests(log, [], 5, 8, report)
    assert report.count(checks.REJECTION_RETRIED) == 1
    excused = ChaosReport()
    checks.check_requests(log, [1.5], 5, 8, excused)
    assert excused.count(checks.REJECTION_RETRIED) == 0


def test_a_transient_fault_without_follow_up_is_caught() -> None:
    report = ChaosReport()
    checks.check_requests([_exchange("b:c1:place", 1.0, 503, "UNAVAILABLE")], [], 5, 8, report)
    assert report.count(checks.TRANSIENT_NOT_RETRIED) == 1
    retried = ChaosReport()
    checks.check_requests(
        [_exchange("b:c1:place", 1.0, 503, "UNAVAILABLE"), _exchange("b:c1:place", 2.0, 201)],
        [],
        5,
        8,
        retried,
    )
    assert retried.count(checks.TRANSIENT_NOT_RETRIED) == 0
    assert retried.transient_retried == 1


def test_a_poll_failing_after_the_order_was_settled_needs_no_follow_up() -> None:
    cid = "b:c2:place"
    poll = _exchange(cid, 3.0, 503, "UNAVAILABLE", path=f"/orders/{cid}")
    cancel = Exchange(
        started=2.0,
        finished=2.01,
        method="POST",
        path=f"/orders/{cid}/cancel",
        client_order_id=cid,
        status=200,
        error=None,
    )
    settled = ChaosReport()
    checks.check_requests([_exchange(cid, 1.0, 201), cancel, poll], [], 5, 8, settled)
    assert settled.count(checks.TRANSIENT_NOT_RETRIED) == 0
    unsettled = ChaosReport()
    checks.check_requests([_exchange(cid, 1.0, 201), poll], [], 5, 8, unsettled)
    assert unsettled.count(checks.TRANSIENT_NOT_RETRIED) == 1


def test_a_placement_sent_after_its_id_was_settled_needs_no_follow_up_where_the_id_is_final() -> (
    None
):
    """A terminated run's local activity still retrying on its worker after the
    settlement run fenced the id (chaos 1.5x, paper, seed 9090): the fence is the
    leg's answer. At Binance, which takes a closed order's id again, it is not."""
    cid = "b:c2:place"
    cancel = _cancelled(cid, 2.0)
    log = [cancel, _exchange(cid, 5.0, 503, "UNAVAILABLE")]
    final = ChaosReport()
    checks.check_requests(log, [], 5, 8, final, settled_ids_final=True)
    assert final.count(checks.TRANSIENT_NOT_RETRIED) == 0
    assert final.stray_placements_after_settle == 1
    reusable = ChaosReport()
    checks.check_requests(log, [], 5, 8, reusable, settled_ids_final=False)
    assert reusable.count(checks.TRANSIENT_NOT_RETRIED) == 1
    before = ChaosReport()  # sent before the cancel: the cancel is its follow-up
    checks.check_requests([_exchange(cid, 1.0, 503, "UNAVAILABLE"), cancel], [], 5, 8, before)
    assert before.count(checks.TRANSIENT_NOT_RETRIED) == 0


# ------------------------------------------------- real venues' dialects


def _binance_view(plan: PlannedBatch, refused: frozenset[str] = frozenset()) -> checks.VenueView:
    venue = chaos_venue("binance")
    ids = [
        f"{plan.batch_id}:{c.command_id}:{action}"
        for c in plan.document.commands
        for action in ("place", "revert-1", "revert-2")
    ]
    return checks.VenueView(
        ours=id_mapper(venue, ids),
        stores_refusals=False,
        refusals_visible=False,
        refused=refused,
        ignore_prefix="seed-",
    )


def _at_binance(order: VenueOrder, venue_order_id: str = "V0000000001") -> VenueOrder:
    venue_id = chaos_venue("binance").venue_id(order.client_order_id)
    assert venue_id != order.client_order_id and len(venue_id) <= 36
    return order.model_copy(update={"client_order_id": venue_id, "venue_order_id": venue_order_id})


def test_binance_orders_are_grouped_under_our_ids_and_a_refusal_stores_nothing() -> None:
    plan = _coordinated()
    orders, first, second = _fill_first_reject_second(plan)
    command = plan.document.commands[0]
    qty = command.quantity
    revert = _order(
        f"{plan.batch_id}:{first}:revert-1",
        command.side.opposite,
        qty,
        qty,
        VenueOrderStatus.FILLED,
    )
    seed = _order("seed-BTC-USDT", OrderSide.BUY, qty, qty, VenueOrderStatus.FILLED)
    at_venue = [_at_binance(orders[0]), _at_binance(revert), seed]  # the refusal left no order
    legs = _legs(
        plan,
        **{
            first: (LegStatus.COMPENSATED, qty, qty, Decimal(0)),
            second: (LegStatus.REJECTED, Decimal(0), Decimal(0), Decimal(0)),
        },
    )
    result = _result(plan, BatchStatus.COMPENSATED, legs)
    refused = frozenset({f"{plan.batch_id}:{second}:place"})
    report = ChaosReport()
    checks.check_batches(
        [plan], {plan.batch_id: result}, at_venue, report, _binance_view(plan, refused)
    )
    assert report.ok, report.violation_details()
    # Without the venue's refusal in the request log, a REJECTED leg with no order is not
    # the venue's word: inconsistent.
    unproven = ChaosReport()
    checks.check_batches([plan], {plan.batch_id: result}, at_venue, unproven, _binance_view(plan))
    assert unproven.count(checks.INCONSISTENT) == 1


def test_a_refusal_answered_to_an_abandoned_placement_may_end_cancelled_where_unseen() -> None:
    plan = _coordinated()
    orders, first, second = _fill_first_reject_second(plan)
    command = plan.document.commands[0]
    qty = command.quantity
    revert = _order(
        f"{plan.batch_id}:{first}:revert-1",
        command.side.opposite,
        qty,
        qty,
        VenueOrderStatus.FILLED,
    )
    legs = _legs(
        plan,
        **{
            first: (LegStatus.COMPENSATED, qty, qty, Decimal(0)),
            second: (LegStatus.CANCELLED, Decimal(0), Decimal(0), Decimal(0)),
        },
    )
    result = _result(plan, BatchStatus.COMPENSATED, legs)
    refused = frozenset({f"{plan.batch_id}:{second}:place"})
    at_binance = [_at_binance(orders[0]), _at_binance(revert)]
    report = ChaosReport()
    view = _binance_view(plan, refused)
    checks.check_batches([plan], {plan.batch_id: result}, at_binance, report, view)
    assert report.ok, report.violation_details()
    assert report.refusals_unseen == 1
    # The native API shows the REJECTED order: there the leg must say REJECTED.
    native = ChaosReport()
    checks.check_batches([plan], {plan.batch_id: result}, [*orders, revert], native)
    assert native.count(checks.INCONSISTENT) == 1


def test_a_second_binance_order_under_a_reused_id_is_a_duplicate() -> None:
    plan = _coordinated()
    orders, first, second = _fill_first_reject_second(plan)
    command = plan.document.commands[0]
    qty = command.quantity
    # The id was free again once the first order filled (OPEN_ORDERS scope): a re-send
    # placed a second one.
    again = _at_binance(orders[0], venue_order_id="V0000000002")
    legs = _legs(
        plan,
        **{
            first: (LegStatus.FILLED, qty, Decimal(0), qty),
            second: (LegStatus.REJECTED, Decimal(0), Decimal(0), Decimal(0)),
        },
    )
    result = _result(plan, BatchStatus.NEEDS_ATTENTION, legs).model_copy(
        update={"reason": f"leg {first}: exposed"}
    )
    refused = frozenset({f"{plan.batch_id}:{second}:place"})
    report = ChaosReport()
    checks.check_batches(
        [plan],
        {plan.batch_id: result},
        [_at_binance(orders[0]), again],
        report,
        _binance_view(plan, refused),
    )
    assert report.count(checks.DUPLICATES) == 1
    assert "a second order at the venue" in report.violation_details()


def test_the_proxy_reads_alpacas_requests() -> None:
    dialect = AlpacaDialect()
    body = json.dumps({"client_order_id": "b:c1:place", "qty": "1"}).encode()
    assert dialect.kind("POST", "/v2/orders") == "place"
    assert dialect.client_order_id("POST", "/v2/orders", body) == "b:c1:place"
    lookup = "/v2/orders:by_client_order_id?client_order_id=b%3Ac1%3Aplace"
    assert (dialect.kind("GET", lookup), dialect.client_order_id("GET", lookup, b"")) == (
        "get",
        "b:c1:place",
    )
    order = json.dumps(
        {"id": "a1bca000-0000-4000-8000-000000000001", "client_order_id": "b:c1:place"}
    )
    dialect.learn("GET", lookup, 200, order.encode())
    cancel = "/v2/orders/a1bca000-0000-4000-8000-000000000001"
    assert (dialect.kind("DELETE", cancel), dialect.client_order_id("DELETE", cancel, b"")) == (
        "cancel",
        "b:c1:place",
    )

    def error(status: int, message: str, code: int = 40310000) -> str | None:
        answer = json.dumps({"code": code, "message": message}).encode()
        return dialect.error("POST", "/v2/orders", status, answer)

    assert error(403, "insufficient buying power") == "INSUFFICIENT_FUNDS"
    assert error(422, 'asset "ZZZ" not found', 42210000) == "UNKNOWN_SYMBOL"
    assert error(422, "chaos: leg c1 rejected on purpose", 40010001) == "INVALID_ORDER"
    assert error(422, "client_order_id must be unique", 40010001) == "DUPLICATE_ID"
    assert error(503, "venue unavailable") == "UNAVAILABLE"
    assert error(429, "rate limit exceeded", 42910000) == "RATE_LIMITED"


def test_the_proxy_reads_binances_requests() -> None:
    dialect = BinanceDialect()
    body = b"symbol=BTCUSDT&side=BUY&newClientOrderId=x-c1-place-abc&timestamp=1&signature=f"
    assert dialect.kind("POST", "/api/v3/order") == "place"
    assert dialect.client_order_id("POST", "/api/v3/order", body) == "x-c1-place-abc"
    query = "/api/v3/order?symbol=BTCUSDT&origClientOrderId=x-c1-place-abc&signature=f"
    assert dialect.kind("DELETE", query) == "cancel"
    assert dialect.client_order_id("GET", query, b"") == "x-c1-place-abc"
    assert dialect.kind("GET", "/api/v3/account?timestamp=1") == "other"

    def error(status: int, code: int, msg: str) -> str | None:
        answer = json.dumps({"code": code, "msg": msg}).encode()
        return dialect.error("POST", "/api/v3/order", status, answer)

    assert error(400, -2010, "Account has insufficient balance for requested action.") == (
        "INSUFFICIENT_FUNDS"
    )
    assert error(400, -1121, "Invalid symbol.") == "UNKNOWN_SYMBOL"
    assert error(400, -2010, "chaos: leg c1 rejected on purpose") == "INVALID_ORDER"
    assert error(400, -1013, "Filter failure: LOT_SIZE") == "INVALID_ORDER"
    assert error(400, -2010, "Duplicate order sent.") == "DUPLICATE_ID"
    assert error(400, -2013, "Order does not exist.") == "NOT_FOUND"
    assert error(503, -1007, "Timeout waiting for response from backend server.") == "UNAVAILABLE"
    assert error(400, -1021, "Timestamp for this request is outside of the recvWindow.") == (
        "EXPIRED_WINDOW"
    )


def test_dialect_rejections_and_expired_windows_are_checked_like_the_native_ones() -> None:
    def sent(at: float, status: int, error: str | None) -> Exchange:
        return Exchange(at, at + 0.01, "POST", "/v2/orders", "b:c1:place", status, error, "place")

    report = ChaosReport()
    log = [sent(1.0, 403, "INSUFFICIENT_FUNDS"), sent(2.0, 403, "INSUFFICIENT_FUNDS")]
    checks.check_requests(log, [], 5, 8, report)
    assert report.count(checks.REJECTION_RETRIED) == 1
    expired = ChaosReport()
    checks.check_requests([sent(1.0, 400, "EXPIRED_WINDOW")], [], 5, 8, expired)
    assert expired.count(checks.TRANSIENT_NOT_RETRIED) == 1


# ------------------------------------------------------------------ the kill switch


def test_a_placement_inside_a_halt_window_is_caught_reverts_and_cancels_are_not() -> None:
    """Between a halt's acknowledgement and the resume only reverts and cancels may
    reach the venue: a placement request (proxy) or a placement stored (venue) is caught."""
    window = HaltWindow(
        acknowledged=NOW + timedelta(seconds=10), resumed=NOW + timedelta(seconds=20)
    )

    def wall(moment: float) -> datetime:
        return NOW + timedelta(seconds=moment)

    exchanges = [
        _exchange("b:c1:place", 9.5, 201),  # before the acknowledgement: allowed
        _exchange("b:c2:revert-1", 12.0, 201),  # a compensating revert: allowed
        _exchange("b:c3:place", 12.0, 200, path="/orders/b:c3:place/cancel"),  # a cancel
        _exchange("b:c4:place", 15.0, 201),  # a placement inside the window
        _exchange("b:c5:place", 21.0, 201),  # after the resume: allowed
    ]
    stored = _order("b:c6:place", OrderSide.BUY, Decimal(1), Decimal(1), VenueOrderStatus.FILLED)
    fence = _order("b:c7:place", OrderSide.BUY, Decimal(0), Decimal(0), VenueOrderStatus.CANCELED)
    orders = [
        stored.model_copy(update={"created_at": NOW + timedelta(seconds=11)}),
        fence.model_copy(update={"created_at": NOW + timedelta(seconds=11), "fenced": True}),
    ]
    report = ChaosReport()
    check_placements_after_halts([window], exchanges, orders, lambda c: c, wall, report)
    found = report.violations[PLACED_AFTER_HALT]
    assert [line.split(":")[1] for line in found] == ["c4", "c6"], found


def test_a_leg_refused_by_the_trading_state_is_consistent_only_if_the_venue_holds_nothing() -> None:
    plan = _coordinated()
    refused = {
        c.command_id: (LegStatus.REJECTED, Decimal(0), Decimal(0), Decimal(0))
        for c in plan.document.commands
    }
    result = _result(plan, BatchStatus.REJECTED_BY_RISK, refused)
    gated = result.model_copy(
        update={
            "legs": tuple(
                leg.model_copy(update={"error": "TRADING_HALTED: trading is HALTED"})
                for leg in result.legs
            )
        }
    )
    assert _run(plan, gated, []).ok
    first = plan.document.commands[0]
    landed = _order(
        f"{plan.batch_id}:{first.command_id}:place",
        first.side,
        first.quantity,
        first.quantity,
        VenueOrderStatus.FILLED,
    )
    report = _run(plan, gated, [landed])
    assert any(
        "venue holds its placement FILLED" in v for v in report.violations[checks.INCONSISTENT]
    )
