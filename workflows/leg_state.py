"""A leg's state inside the workflow: an explicit, small state machine.

Pure code (no Temporal calls), so it is deterministic and unit-testable. The
workflow feeds it venue answers and activity failures; it derives the leg's
LegStatus and the quantities the result reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from execbatch.core.enums import LegStatus, VenueOrderStatus
from execbatch.core.order_ids import placement_order_id
from execbatch.dtos.execution.batch_result import LegResult
from execbatch.dtos.execution.execution_command import ExecutionCommand
from execbatch.venue.port.orders import VenueOrder

ZERO = Decimal(0)


class LegMismatchError(RuntimeError):
    """A venue answer was applied to the wrong leg: a bug, never a business outcome."""


@dataclass
class LegState:
    command: ExecutionCommand
    batch_id: str
    index: int
    status: LegStatus = LegStatus.PENDING
    filled_quantity: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    compensated_quantity: Decimal = ZERO
    exposed_quantity: Decimal = ZERO
    error: str | None = None
    outcome_unknown: bool = False
    """True when the placement may have reached the venue but we never heard back."""
    started: bool = False
    awaiting_fill: bool = False
    venue_final: bool = False
    """The venue has reported this leg's order in a final state (filled, cancelled, rejected)."""
    """The order rests at the venue and an await-fill activity follows it."""

    @property
    def client_order_id(self) -> str:
        return placement_order_id(self.batch_id, self.command.command_id)

    @property
    def fully_filled(self) -> bool:
        return self.status is LegStatus.FILLED

    def apply_order(self, order: VenueOrder) -> None:
        """Take the venue's view of the placement order as the truth."""
        if order.client_order_id != self.client_order_id:
            # Results are matched to activities by sequence, not content: a mix-up
            # must fail the workflow task loudly, never be reported as this leg's.
            raise LegMismatchError(
                f"leg {self.command.command_id} got the venue order {order.client_order_id}"
            )
        self.filled_quantity = order.filled_quantity
        self.avg_fill_price = order.avg_fill_price
        self.outcome_unknown = False
        self.venue_final = order.status.is_terminal
        if order.status is VenueOrderStatus.FILLED:
            self.status = LegStatus.FILLED
        elif order.status is VenueOrderStatus.REJECTED:
            self.status = LegStatus.REJECTED
            self.error = f"{order.reject_error}: {order.reject_message}"
        elif order.status is VenueOrderStatus.CANCELED:
            self.status = (
                LegStatus.PARTIALLY_FILLED if order.filled_quantity > 0 else LegStatus.CANCELLED
            )
        else:  # NEW or PARTIALLY_FILLED: resting at the venue
            self.status = LegStatus.PLACED
        if order.status is VenueOrderStatus.PARTIALLY_FILLED:
            self.status = LegStatus.PARTIALLY_FILLED
            self.outcome_unknown = True  # still resting: more may fill

    def interrupted(self) -> None:
        """Its activity was cancelled: unknown at the venue, unless already settled there."""
        self.outcome_unknown = not self.venue_final

    def reject(self, error_type: str, message: str) -> None:
        self.status = LegStatus.REJECTED
        self.error = f"{error_type}: {message}"
        self.outcome_unknown = False

    def fail(self, message: str) -> None:
        """Placement gave up without a business answer: the venue may hold the order."""
        self.status = LegStatus.FAILED
        self.error = message
        self.outcome_unknown = True

    def skip(self) -> None:
        self.status = LegStatus.SKIPPED

    def needs_settling(self) -> bool:
        """Whether the venue must be asked (and fenced) before we can report this leg."""
        return self.started and (self.outcome_unknown or self.status is LegStatus.PLACED)

    def to_result(self) -> LegResult:
        c = self.command
        return LegResult(
            command_id=c.command_id,
            plan_id=c.plan_id,
            symbol=c.symbol,
            side=c.side,
            order_type=c.order_type,
            quantity=c.quantity,
            status=self.status,
            filled_quantity=self.filled_quantity,
            avg_fill_price=self.avg_fill_price,
            compensated_quantity=self.compensated_quantity,
            exposed_quantity=self.exposed_quantity,
            client_order_id=self.client_order_id if self.started else None,
            error=self.error,
        )
