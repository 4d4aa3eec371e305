"""The invariants of a chaos run, checked against the venue's own records.

Nothing here trusts the executor: the venue's orders (its database) and the
requests the workers actually sent (the recording proxy) are the evidence,
and each batch's BatchResult is checked against them.

* **duplicates**: a client order id stored twice, a 409 (the same id sent
  with other content), an order id that is no leg's placement or revert, a
  revert in a batch that does not compensate, revert orders that do not
  number 1..k, or reverts that filled more than the placement did.
* **exposed legs not flagged**: in a COORDINATED batch that did not fill every
  leg, a leg whose net position (placement fill minus revert fills) is not
  zero, unless the batch says NEEDS_ATTENTION and reports the leg exposed.
* **batches lost**: a batch without a final BatchResult.
* **results inconsistent with the venue**: a leg's ``filled_quantity`` is not
  the venue's fill of its placement order, its ``compensated_quantity`` not
  the sum of its revert fills, REJECTED/FILLED disagree with the venue, or an
  order is still open at the venue behind an unflagged leg.
* **needs-attention legs not named**: the reason text of a NEEDS_ATTENTION
  batch does not name every exposed leg.
* **rejections retried**: a placement was sent again after the venue answered
  it with a business rejection, with no worker crash or server restart in
  between (which would explain a re-run of the activity).
* **closed without a result and not settled**: a batch whose latest run
  Temporal closed (hard timeout, Terminate, failure) has no completed
  settlement run.
* **settled although a newer run continued the batch**: a batch whose latest
  run (after a reset) completed normally also has a settlement run.
* **transient faults not retried**: a request answered with a transient fault
  (5xx, 429, Binance's -1021, or slower than the adapter's timeout) was never
  followed by another request for that order, although attempts were left.

On a real venue's dialect (``VenueView``) orders are grouped by *our* client
order ids: the venue's own (Binance's derived ids) are mapped back first. A
second order the venue holds for one leg's placement or revert is a
duplicate (Binance keeps ids unique among open orders only, so a re-send after
the first order closed would place it; the SQL check counts it too). Where the
venue stores nothing for a refused placement (Binance), a leg is REJECTED at
the venue when the proxy saw the venue answer its placement with a business
rejection and the venue holds no order for it. Where the venue's API shows no
refused order afterwards (Alpaca, Binance), a refused placement the workflow
had already abandoned may also end CANCELLED with nothing filled (counted in
the report): to the executor it is a placement that never landed.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus, VenueOrderStatus
from execbatch.dtos.execution import BatchResult, LegResult
from execbatch.venue.port.orders import VenueOrder
from tests.reliability.chaos.proxy import BUSINESS_REJECTIONS, Exchange
from tests.reliability.chaos.report import ChaosReport
from tests.reliability.chaos.scenario import PlannedBatch
from tests.reliability.chaos.trading import refused_by_gate

ZERO = Decimal(0)
ADAPTER_TIMEOUT_SECONDS = 5.0
"""``PaperVenueAdapter``'s default timeout, which the worker uses (the chaos run sets
the SDK adapters' HTTP timeout to the same)."""
TRANSIENT_ERRORS = frozenset({"EXPIRED_WINDOW", "RATE_LIMITED"})
"""Refused before processing, to be sent again: Binance's -1021 (the request's
recvWindow passed), rate limits."""


def _same(client_order_id: str) -> str:
    return client_order_id


@dataclass(frozen=True)
class VenueView:
    """How to read one venue's records against our batches (the paper venue: as they are)."""

    ours: Callable[[str], str] = _same
    """The venue's client order id -> ours (Binance's derived ids mapped back)."""
    stores_refusals: bool = True
    """A refused placement is stored as a REJECTED order (paper, Alpaca's dialect)."""
    refusals_visible: bool = True
    """The venue's API shows a refused placement afterwards (the paper venue's native
    API: the REJECTED order). Alpaca and Binance do not (a refused POST creates no
    order), so a placement the workflow abandoned (a COORDINATED sibling failed while
    it was on the wire) and the venue refused is, to the executor, one that never
    landed: the leg ends CANCELLED with nothing placed."""
    refused: frozenset[str] = frozenset()
    """Our placement ids the venue answered with a business rejection (from the proxy)."""
    ignore_prefix: str | None = None
    """Venue orders that belong to the run's set-up (seed holdings), not to a batch."""

    def rejected_at_venue(self, client_order_id: str, placement: VenueOrder | None) -> bool:
        if placement is not None:
            return placement.status is VenueOrderStatus.REJECTED
        return not self.stores_refusals and client_order_id in self.refused


def is_rejection(exchange: Exchange) -> bool:
    """A business rejection answered (any dialect: 422 natively, 400/403 elsewhere)."""
    return 400 <= exchange.status < 500 and exchange.error in BUSINESS_REJECTIONS


DUPLICATES = "duplicates found"
EXPOSED = "exposed legs not flagged"
LOST = "batches lost"
INCONSISTENT = "results inconsistent with venue"
UNNAMED = "needs-attention legs not named"
REJECTION_RETRIED = "rejections retried"
TRANSIENT_NOT_RETRIED = "transient faults not retried"
UNSETTLED = "closed without a result and not settled"
SETTLED_LIVE = "settled although a newer run continued the batch"
INVARIANTS = (
    DUPLICATES,
    EXPOSED,
    LOST,
    INCONSISTENT,
    UNNAMED,
    REJECTION_RETRIED,
    TRANSIENT_NOT_RETRIED,
    UNSETTLED,
    SETTLED_LIVE,
)


@dataclass
class LegOrders:
    placement: VenueOrder | None = None
    reverts: dict[int, VenueOrder] = field(default_factory=dict)

    @property
    def placed_fill(self) -> Decimal:
        return self.placement.filled_quantity if self.placement is not None else ZERO

    @property
    def reverted_fill(self) -> Decimal:
        return sum((order.filled_quantity for order in self.reverts.values()), ZERO)

    @property
    def residual(self) -> Decimal:
        """Net position this leg left, in the command's direction."""
        return self.placed_fill - self.reverted_fill

    def open_orders(self) -> list[VenueOrder]:
        orders = [self.placement, *self.reverts.values()]
        return [o for o in orders if o is not None and not o.status.is_terminal]


def duplicate_ids_in_db(db_path: Path) -> list[str]:
    """Client order ids stored more than once, straight from the venue's SQLite file."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT client_order_id, COUNT(*) FROM orders"
            " GROUP BY client_order_id HAVING COUNT(*) > 1"
        ).fetchall()
    return [f"{cid} stored {count} times" for cid, count in rows]


def _group_orders(
    planned: Sequence[PlannedBatch],
    orders: Iterable[VenueOrder],
    report: ChaosReport,
    view: VenueView,
) -> dict[str, dict[str, LegOrders]]:
    legs: dict[str, dict[str, LegOrders]] = {
        p.batch_id: {c.command_id: LegOrders() for c in p.document.commands} for p in planned
    }
    for order in orders:
        if view.ignore_prefix is not None and order.client_order_id.startswith(view.ignore_prefix):
            continue
        cid = view.ours(order.client_order_id)
        shown = (
            cid if cid == order.client_order_id else f"{cid} (at the venue {order.client_order_id})"
        )
        parts = cid.split(":")
        batch = legs.get(parts[0])
        leg = batch.get(parts[1]) if batch is not None and len(parts) == 3 else None
        if leg is None:
            report.add(DUPLICATES, f"{shown}: not an order of any planned leg")
            continue
        action = parts[2]
        earlier: VenueOrder | None = None
        if action == "place":
            earlier, leg.placement = leg.placement, leg.placement or order
        elif action.startswith("revert-") and action[len("revert-") :].isdigit():
            number = int(action[len("revert-") :])
            earlier = leg.reverts.get(number)
            leg.reverts.setdefault(number, order)
        else:
            report.add(DUPLICATES, f"{shown}: unknown action {action!r}")
        if earlier is not None:
            report.add(
                DUPLICATES,
                f"{shown}: a second order at the venue ({earlier.venue_order_id} "
                f"{earlier.status.value}, then {order.venue_order_id} {order.status.value})",
            )
    return legs


def _check_reverts(
    plan: PlannedBatch, command_id: str, leg: LegOrders, report: ChaosReport
) -> None:
    if not leg.reverts:
        return
    where = f"{plan.batch_id}:{command_id}"
    if plan.mode is not BatchExecutionMode.COORDINATED:
        report.add(DUPLICATES, f"{where}: revert orders in a {plan.mode.value} batch")
    if sorted(leg.reverts) != list(range(1, len(leg.reverts) + 1)):
        report.add(DUPLICATES, f"{where}: revert orders numbered {sorted(leg.reverts)}")
    if leg.reverted_fill > leg.placed_fill:
        report.add(
            DUPLICATES,
            f"{where}: reverts filled {leg.reverted_fill} but the placement only {leg.placed_fill}",
        )
    command = next(c for c in plan.document.commands if c.command_id == command_id)
    for number, order in leg.reverts.items():
        if not order.fenced and order.side is not command.side.opposite:
            report.add(DUPLICATES, f"{where}:revert-{number}: same side as the placement")


def _check_leg_result(
    plan: PlannedBatch,
    result: BatchResult,
    res: LegResult,
    leg: LegOrders,
    report: ChaosReport,
    view: VenueView,
) -> None:
    where = f"{plan.batch_id}:{res.command_id}"
    placement = leg.placement
    if res.filled_quantity != leg.placed_fill:
        report.add(
            INCONSISTENT,
            f"{where}: result {res.status.value} filled {res.filled_quantity} ({res.error}), "
            f"venue placement {placement.status.value if placement else 'none'} filled "
            f"{leg.placed_fill}",
        )
    if res.compensated_quantity != leg.reverted_fill:
        report.add(
            INCONSISTENT,
            f"{where}: result compensated {res.compensated_quantity}, "
            f"venue reverts filled {leg.reverted_fill}",
        )
    if res.status is LegStatus.REJECTED and refused_by_gate(res.error):
        # The risk gate refused it (the trading state): consistent when the venue holds
        # no order for it (none, or the tombstone of a settled id).
        if placement is None or placement.fenced:
            report.legs_refused_by_gate += 1
        elif (
            placement.status is VenueOrderStatus.REJECTED
            and placement.filled_quantity == 0
            and not view.refusals_visible
        ):
            # A lost workflow task's send, rejected by the venue, which shows no order
            # for it (a 403 creates none): the re-run's gate refusal is all the run
            # can know, and nothing was placed. The venue's records say the same.
            report.legs_refused_by_gate += 1
            report.refused_after_venue_rejection += 1
        else:
            report.add(
                INCONSISTENT,
                f"{where}: result REJECTED ({res.error}), but the venue holds its placement "
                f"{placement.status.value} filled {placement.filled_quantity}",
            )
        return
    venue_rejected = view.rejected_at_venue(f"{where}:place", placement)
    unseen = (
        venue_rejected
        and not view.refusals_visible
        and res.status is LegStatus.CANCELLED
        and res.filled_quantity == 0
    )
    if unseen:
        report.refusals_unseen += 1
    elif venue_rejected != (res.status is LegStatus.REJECTED):
        venue_status = placement.status.value if placement is not None else "no order"
        if venue_rejected and placement is None:
            venue_status = "refused the placement, stored nothing"
        report.add(
            INCONSISTENT,
            f"{where}: result {res.status.value} ({res.error}), venue {venue_status}",
        )
    if (
        res.error is not None
        and "not placed" in res.error
        and placement is not None
        and not placement.fenced
        and placement.status is not VenueOrderStatus.REJECTED
    ):
        report.add(
            INCONSISTENT,
            f"{where}: result says not placed ({res.error}), but the venue holds its "
            f"placement {placement.status.value} filled {placement.filled_quantity}",
        )
    if res.status is LegStatus.FILLED and (
        placement is None or placement.status is not VenueOrderStatus.FILLED
    ):
        report.add(INCONSISTENT, f"{where}: result FILLED, venue {placement and placement.status}")
    flagged = result.status is BatchStatus.NEEDS_ATTENTION and res.exposed_quantity != 0
    for order in leg.open_orders():
        if not flagged:
            report.add(
                INCONSISTENT,
                f"{order.client_order_id}: still {order.status.value} at the venue after the "
                f"batch ended {result.status.value}",
            )


def _check_batch(
    plan: PlannedBatch,
    result: BatchResult,
    legs: Mapping[str, LegOrders],
    report: ChaosReport,
    view: VenueView,
) -> None:
    if not result.status.is_final:
        report.add(LOST, f"{plan.batch_id}: result status {result.status.value} is not final")
    by_id = {leg.command_id: leg for leg in result.legs}
    for command in plan.document.commands:
        leg = legs[command.command_id]
        _check_reverts(plan, command.command_id, leg, report)
        res = by_id.get(command.command_id)
        if res is None:
            report.add(INCONSISTENT, f"{plan.batch_id}:{command.command_id}: missing from result")
            continue
        _check_leg_result(plan, result, res, leg, report, view)
    if result.status is BatchStatus.NEEDS_ATTENTION:
        for res in result.exposed_legs:
            report.attention(
                plan.mode.value,
                res.error,
                leg=f"{plan.batch_id}:{res.command_id} ({res.status.value})",
            )
            if res.command_id not in (result.reason or ""):
                report.add(UNNAMED, f"{plan.batch_id}: reason does not name {res.command_id}")
        if not result.exposed_legs:
            report.add(UNNAMED, f"{plan.batch_id}: NEEDS_ATTENTION without an exposed leg")
    if plan.mode is not BatchExecutionMode.COORDINATED:
        return
    all_filled = all(
        legs[c.command_id].placed_fill == c.quantity and not legs[c.command_id].reverts
        for c in plan.document.commands
    )
    if all_filled:
        return
    for command in plan.document.commands:
        residual = legs[command.command_id].residual
        res = by_id.get(command.command_id)
        flagged = (
            result.status is BatchStatus.NEEDS_ATTENTION
            and res is not None
            and res.exposed_quantity != 0
        )
        if residual != 0 and not flagged:
            report.add(
                EXPOSED,
                f"{plan.batch_id}:{command.command_id}: net {residual} {command.symbol} left "
                f"open, batch {result.status.value}",
            )


def _check_lost_batch(
    plan: PlannedBatch, legs: Mapping[str, LegOrders], report: ChaosReport
) -> None:
    """A batch without a result flags nothing: whatever it left at the venue is unflagged."""
    for command in plan.document.commands:
        leg = legs[command.command_id]
        _check_reverts(plan, command.command_id, leg, report)
        for order in leg.open_orders():
            report.add(
                INCONSISTENT, f"{order.client_order_id}: still {order.status.value}, batch lost"
            )
    if plan.mode is not BatchExecutionMode.COORDINATED:
        return
    if all(legs[c.command_id].placed_fill == c.quantity for c in plan.document.commands):
        return
    for command in plan.document.commands:
        residual = legs[command.command_id].residual
        if residual != 0:
            report.add(
                EXPOSED,
                f"{plan.batch_id}:{command.command_id}: net {residual} {command.symbol} left "
                "open, batch lost (no result)",
            )


def _transient(exchange: Exchange) -> bool:
    return (
        exchange.status >= 500
        or exchange.status in (408, 429)
        or exchange.error in TRANSIENT_ERRORS
        or (exchange.finished - exchange.started >= ADAPTER_TIMEOUT_SECONDS)
    )


def check_requests(
    exchanges: Sequence[Exchange],
    disruptions: Sequence[float],
    placement_attempts: int,
    compensation_attempts: int,
    report: ChaosReport,
    lost: frozenset[str] = frozenset(),
    reexecuted: frozenset[str] = frozenset(),
    settled_ids_final: bool = False,
) -> None:
    """Business rejections never sent again; transient faults always followed up.

    ``settled_ids_final``: at this venue an id whose cancel was answered can never
    place again (the paper venue fences it; Alpaca keeps a client order id unique
    for ever), so a placement attempt sent after that answer places nothing and its
    transient answer needs no follow-up. Not at Binance: it takes a closed order's
    id again.

    ``lost`` batch ids are skipped: their orders are already reported with them.
    ``reexecuted`` batch ids lost a workflow task: a rejection sent again there is
    the local placement re-run with the same id (counted, not a violation).
    """
    by_cid: dict[str, list[Exchange]] = defaultdict(list)
    for exchange in exchanges:
        if exchange.client_order_id is not None:
            by_cid[exchange.client_order_id].append(exchange)
    disruptions = sorted(disruptions)

    def disrupted(start: float, end: float) -> bool:
        return any(start <= moment <= end for moment in disruptions)

    for cid, seen in by_cid.items():
        if cid.split(":", 1)[0] in lost:
            continue  # a lost batch is reported as such; nothing follows up its orders
        seen.sort(key=lambda e: e.started)
        places = [e for e in seen if e.endpoint == "place"]
        # A rejection answered after the adapter gave up never reached the worker:
        # to the worker it was a timeout, and retrying that is right.
        first_reject = next(
            (
                e
                for e in places
                if is_rejection(e) and e.finished - e.started < ADAPTER_TIMEOUT_SECONDS
            ),
            None,
        )
        if first_reject is not None:
            report.rejections_seen += 1
            for later in places:
                if later.started > first_reject.finished and not disrupted(
                    first_reject.finished, later.started
                ):
                    if cid.split(":", 1)[0] in reexecuted:
                        report.rejections_reexecuted += 1
                        break
                    report.add(
                        REJECTION_RETRIED,
                        f"{cid}: sent again {later.started - first_reject.finished:.2f}s after "
                        f"{first_reject.error}",
                    )
                    break
        attempts = placement_attempts if cid.endswith(":place") else compensation_attempts
        settled_at = min(
            (e.finished for e in seen if e.endpoint == "cancel" and 200 <= e.status < 300),
            default=None,
        )
        for position, exchange in enumerate(seen):
            if not _transient(exchange):
                continue
            settled = settled_at is not None and exchange.started >= settled_at
            if exchange.endpoint == "get" and settled:
                # A follower's poll racing the wind-down: the venue had already
                # answered the cancel with the order's final state.
                continue
            if exchange.endpoint == "place" and settled and settled_ids_final:
                report.stray_placements_after_settle += 1
                continue
            report.transient_answers += 1
            if position + 1 < len(seen):
                report.transient_retried += 1
                continue
            same_kind = sum(1 for e in seen if e.endpoint == exchange.endpoint)
            if same_kind >= attempts:
                continue  # retries exhausted: the leg reports it
            report.add(
                TRANSIENT_NOT_RETRIED,
                f"{cid}: {exchange.endpoint} answered {exchange.status} {exchange.error} "
                f"and never followed up ({same_kind} such requests)",
            )


def check_batches(
    planned: Sequence[PlannedBatch],
    outcomes: Mapping[str, BatchResult | str],
    orders: Iterable[VenueOrder],
    report: ChaosReport,
    view: VenueView | None = None,
) -> None:
    """Every invariant that needs the venue's orders and the batches' results."""
    view = view or VenueView()
    for invariant in INVARIANTS:
        report.add(invariant)
    legs = _group_orders(planned, orders, report, view)
    for plan in planned:
        outcome = outcomes.get(plan.batch_id, "never submitted")
        if isinstance(outcome, str):
            report.add(LOST, f"{plan.batch_id}: {outcome}")
            report.batches_by_status["LOST"] += 1
            _check_lost_batch(plan, legs[plan.batch_id], report)
            continue
        report.batches_by_status[outcome.status.value] += 1
        _check_batch(plan, outcome, legs[plan.batch_id], report, view)
