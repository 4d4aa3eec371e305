"""A leg's state inside the workflow: a state machine with a transition table.

Pure code (no Temporal calls), so it is deterministic and unit-testable. The
workflow never writes a leg's fields: it tells the leg what happened, as one
of the events below, through ``LegState.apply(event)``. The leg derives its
LegStatus and the quantities the result reports, and an event that is not
allowed in the leg's current status (``TRANSITIONS``) raises
``IllegalLegTransition``: a bug must fail the workflow task loudly (Temporal
retries it, and fixed code can be deployed), never be reported as a leg's
outcome.

The statuses, as a trader reads them:

=================  =============================================================
PENDING            not placed yet (or, in a settlement run, not known yet)
PLACED             the venue holds the order; nothing filled yet
PARTIALLY_FILLED   part filled: still resting, or cancelled with a part filled
FILLED             fully filled
REJECTED           the venue said no (a business rejection); nothing placed
FAILED             placement gave up without an answer: the venue may hold it
CANCELLED          cancelled with nothing filled (or fenced before it landed)
COMPENSATING       a revert order is being placed for what filled
COMPENSATED        what filled was reverted exactly
SKIPPED            never placed (the batch stopped before this leg)
=================  =============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from execbatch.core.enums import LegStatus, VenueOrderStatus
from execbatch.core.order_ids import placement_order_id
from execbatch.dtos.execution.batch_result import LegResult
from execbatch.dtos.execution.execution_command import ExecutionCommand
from execbatch.venue.port.orders import VenueOrder

ZERO = Decimal(0)
S = LegStatus


class LegMismatchError(RuntimeError):
    """A venue answer was applied to the wrong leg: a bug, never a business outcome."""


class IllegalLegTransition(RuntimeError):
    """An event that cannot happen to a leg in its status: a bug in the workflow."""


# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class PlacementStarted:
    """The leg got a placement slot and its order is about to be sent."""


@dataclass(frozen=True)
class VenueAnswered:
    """The venue reported the leg's placement order (placed, polled, cancelled)."""

    order: VenueOrder


@dataclass(frozen=True)
class Rejected:
    """The venue refused the order for a business reason (final), or our own risk gate
    refused to send it (``maybe_sent_until`` set, see below)."""

    error_type: str
    message: str
    maybe_sent_until: datetime | None = None
    """Set when the refusal is the gate's, not the venue's, and an earlier send of the
    placement may exist: an earlier attempt, or one made in a workflow task that was
    lost (a crashed worker) before its local activities were recorded, which the
    re-run gate now refuses. The leg stays REJECTED unless the venue holds its order;
    it is settled like a placement of unknown outcome, whose last attempt may have
    started until this moment."""


@dataclass(frozen=True)
class PlacementFailed:
    """Placing or following gave up without a business answer: the order may exist."""

    message: str
    at: datetime | None = None
    """When it gave up: no placement attempt starts after this."""


@dataclass(frozen=True)
class Interrupted:
    """The leg's activity was cancelled: its order is unknown unless already final."""

    at: datetime | None = None
    """When it was cancelled: no placement attempt starts after this."""


@dataclass(frozen=True)
class NeverPlaced:
    """The venue has no order for the leg, and no placement attempt can land any more."""


@dataclass(frozen=True)
class FollowStarted:
    """A resting order is being followed by an await-fill activity."""


@dataclass(frozen=True)
class FollowEnded:
    """The await-fill activity returned."""


@dataclass(frozen=True)
class Skipped:
    """The batch stopped before this leg was placed."""


@dataclass(frozen=True)
class SettleFailed:
    """The venue could not be asked to cancel: whatever was not filled may be exposed."""

    message: str


@dataclass(frozen=True)
class RevertStarted:
    """A revert (the opposite side, for the filled quantity) is being sent."""


@dataclass(frozen=True)
class Reverted:
    quantity: Decimal


@dataclass(frozen=True)
class RevertFailed:
    """The revert gave up: what it had not reverted stays exposed."""

    message: str
    reverted: Decimal = Decimal(0)
    """What its last attempt had reverted (read back from the venue) before it failed."""


@dataclass(frozen=True)
class Recovering:
    """A settlement run starts: the leg's order may or may not exist at the venue."""

    attempts_end: datetime | None = None
    """The latest moment the closed run could have started a placement attempt."""


LegEvent = (
    PlacementStarted
    | VenueAnswered
    | Rejected
    | PlacementFailed
    | Interrupted
    | FollowStarted
    | FollowEnded
    | Skipped
    | SettleFailed
    | RevertStarted
    | Reverted
    | RevertFailed
    | Recovering
    | NeverPlaced
)

# ------------------------------------------------------------ the table

_LIVE = frozenset({S.PENDING, S.PLACED, S.PARTIALLY_FILLED, S.FAILED})
"""Statuses whose order may still change at the venue (or is unknown)."""
_FROM_VENUE = frozenset({S.PLACED, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELLED})
"""What a venue answer can make of a leg."""
_SETTLED_AT_VENUE = frozenset({S.FILLED, S.REJECTED, S.CANCELLED})
_ANY_BUT_REVERT = frozenset(LegStatus) - {S.COMPENSATING, S.COMPENSATED}


def _same(statuses: frozenset[LegStatus]) -> dict[LegStatus, frozenset[LegStatus]]:
    """Events that change flags or quantities, never the status."""
    return {status: frozenset({status}) for status in statuses}


TRANSITIONS: Mapping[type, Mapping[LegStatus, frozenset[LegStatus]]] = {
    PlacementStarted: {S.PENDING: frozenset({S.PENDING})},
    Recovering: {S.PENDING: frozenset({S.PENDING})},
    NeverPlaced: {
        **{status: frozenset({S.CANCELLED}) for status in _LIVE},
        S.REJECTED: frozenset({S.REJECTED}),  # a gate refusal settled (Rejected above)
    },
    VenueAnswered: {
        **{status: _FROM_VENUE for status in _LIVE},
        # A venue-final order never changes: a later answer must say the same.
        **_same(_SETTLED_AT_VENUE),
        # ... except a refusal of our own gate while an earlier send may exist: the
        # venue's answer is then the truth (``LegState.apply`` narrows this row back
        # to REJECTED for the venue's own rejections).
        S.REJECTED: _FROM_VENUE,
    },
    Rejected: {status: frozenset({S.REJECTED}) for status in _LIVE},
    PlacementFailed: {status: frozenset({S.FAILED}) for status in _LIVE},
    Interrupted: _same(_ANY_BUT_REVERT),
    FollowStarted: _same(frozenset({S.PLACED, S.PARTIALLY_FILLED})),
    FollowEnded: _same(_FROM_VENUE),
    Skipped: {S.PENDING: frozenset({S.SKIPPED})},
    SettleFailed: _same(_ANY_BUT_REVERT),
    RevertStarted: {
        S.FILLED: frozenset({S.COMPENSATING}),
        S.PARTIALLY_FILLED: frozenset({S.COMPENSATING}),
    },
    Reverted: {S.COMPENSATING: frozenset({S.COMPENSATED})},
    RevertFailed: {S.COMPENSATING: frozenset({S.FILLED, S.PARTIALLY_FILLED})},
}
"""For each event, the statuses it may happen in and the statuses it may lead to."""


def _status_of(order: VenueOrder) -> LegStatus:
    match order.status:
        case VenueOrderStatus.FILLED:
            return S.FILLED
        case VenueOrderStatus.REJECTED:
            return S.REJECTED
        case VenueOrderStatus.CANCELED:
            return S.PARTIALLY_FILLED if order.filled_quantity > 0 else S.CANCELLED
        case VenueOrderStatus.PARTIALLY_FILLED:
            return S.PARTIALLY_FILLED
        case _:  # NEW: resting at the venue
            return S.PLACED


class LegState:
    """One leg of a running batch. Read its properties; change it with ``apply``."""

    def __init__(self, command: ExecutionCommand, batch_id: str, index: int) -> None:
        self.command = command
        self.batch_id = batch_id
        self.index = index
        self._status = S.PENDING
        self._filled = ZERO
        self._avg_price: Decimal | None = None
        self._compensated = ZERO
        self._exposed = ZERO
        self._error: str | None = None
        self._outcome_unknown = False
        self._started = False
        self._refusal_unsettled = False
        """Refused by our gate while an earlier send may exist (``Rejected``)."""
        self._awaiting_fill = False
        self._venue_final = False
        self._before_revert: LegStatus | None = None
        self._attempts_end: datetime | None = None
        self._error_before_settle_failed: str | None = None
        """Set while a settle has failed: the error the leg had before it."""
        self._settle_failed = False
        self._refusal_type: str | None = None
        """The error type of the last refusal (our gate's or the venue's)."""

    # ----------------------------------------------------------- reading

    @property
    def status(self) -> LegStatus:
        return self._status

    @property
    def filled_quantity(self) -> Decimal:
        return self._filled

    @property
    def exposed_quantity(self) -> Decimal:
        """Quantity left open that the batch could not settle or revert."""
        return self._exposed

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def started(self) -> bool:
        """Its placement was (or may have been) sent."""
        return self._started

    @property
    def awaiting_fill(self) -> bool:
        """The order rests at the venue and an await-fill activity follows it."""
        return self._awaiting_fill

    @property
    def client_order_id(self) -> str:
        return placement_order_id(self.batch_id, self.command.command_id)

    @property
    def fully_filled(self) -> bool:
        return self._status is S.FILLED

    @property
    def attempts_end(self) -> datetime | None:
        """The latest moment a placement attempt of this leg may have started (None:
        its placement returned, or never started)."""
        return self._attempts_end

    def needs_settling(self) -> bool:
        """Whether the venue must be asked (and fenced) before we can report this leg."""
        return self._started and (self._outcome_unknown or self._status is S.PLACED)

    def can_be_reverted(self) -> bool:
        return self._filled > 0 and self._exposed == 0

    # ----------------------------------------------------------- changing

    def apply(self, event: LegEvent) -> None:
        """Apply what happened; raise ``IllegalLegTransition`` if it cannot happen now."""
        allowed = TRANSITIONS[type(event)].get(self._status)
        if self._status is S.REJECTED and not self._refusal_unsettled:
            # The venue's own rejection (or a settled refusal) is final: a later answer
            # must say the same, and there is nothing left to settle.
            if isinstance(event, NeverPlaced):
                allowed = None
            elif isinstance(event, VenueAnswered):
                allowed = frozenset({S.REJECTED})
        if allowed is None:
            raise IllegalLegTransition(
                f"leg {self.command.command_id}: {type(event).__name__} in status "
                f"{self._status.value}"
            )
        target = self._handle(event)
        if target not in allowed:
            raise IllegalLegTransition(
                f"leg {self.command.command_id}: {type(event).__name__} would move it from "
                f"{self._status.value} to {target.value}"
            )
        self._status = target

    def _handle(self, event: LegEvent) -> LegStatus:
        """The event's effect on quantities and flags; returns the new status."""
        if self._settle_failed and isinstance(event, VenueAnswered | NeverPlaced):
            # A later look-up answered (a settle cut short by a cancel, then the
            # wind-down's own): the venue's last answer is the leg's state, and the
            # "state unknown" exposure it replaces is gone.
            self._settle_failed = False
            self._exposed = ZERO
            self._error = self._error_before_settle_failed
        match event:
            case PlacementStarted():
                self._started = True
            case Recovering(attempts_end=attempts_end):
                self._started = True
                self._outcome_unknown = True
                self._attempts_end = attempts_end
            case VenueAnswered(order=order):
                refused, self._refusal_unsettled = self._refusal_unsettled, False
                if refused and order.fenced:
                    # Settling a gate-refused leg fenced its id: nothing was placed.
                    self._outcome_unknown = False
                    self._venue_final = True
                    return S.REJECTED
                if refused:
                    # An earlier send (a retried attempt, a lost workflow task's) reached
                    # the venue: the gate refused a later attempt only, so its "not
                    # placed" would be false. A venue rejection's own reason replaces
                    # this in ``_take``.
                    self._error = (
                        f"placed by an earlier attempt before our gate refused a later one "
                        f"({self._refusal_type}); the venue's answer stands"
                    )
                return self._take(order)
            case Rejected(error_type=error_type, message=message, maybe_sent_until=until):
                self._error = f"{error_type}: {message}"
                self._refusal_type = error_type
                self._outcome_unknown = until is not None
                self._refusal_unsettled = until is not None
                if until is not None:
                    self._started = True
                    self._attempts_end = until
                return S.REJECTED
            case PlacementFailed(message=message, at=at):
                self._error = message
                self._outcome_unknown = True
                self._attempts_end = at or self._attempts_end
                return S.FAILED
            case Interrupted(at=at):
                self._outcome_unknown = not self._venue_final
                if self._outcome_unknown:
                    self._attempts_end = at or self._attempts_end
            case NeverPlaced():
                self._outcome_unknown = False
                self._venue_final = True
                self._refusal_unsettled = False
                # A gate-refused leg the venue never saw stays refused.
                return S.REJECTED if self._status is S.REJECTED else S.CANCELLED
            case FollowStarted():
                self._awaiting_fill = True
            case FollowEnded():
                self._awaiting_fill = False
            case Skipped():
                return S.SKIPPED
            case SettleFailed(message=message):
                if not self._settle_failed:
                    self._error_before_settle_failed = self._error
                self._settle_failed = True
                self._exposed = self.command.quantity - self._filled
                self._error = f"could not cancel at the venue, order state unknown: {message}"
            case RevertStarted():
                self._before_revert = self._status
                return S.COMPENSATING
            case Reverted(quantity=quantity):
                self._compensated = quantity
                return S.COMPENSATED
            case RevertFailed(message=message, reverted=reverted):
                self._compensated = reverted
                self._exposed = self._filled - reverted
                self._error = (
                    f"compensation failed, {self._exposed} {self.command.symbol} exposed"
                    f"{f' ({reverted} reverted)' if reverted else ''}: {message}"
                )
                assert self._before_revert is not None  # RevertStarted came first
                return self._before_revert
        return self._status

    def _take(self, order: VenueOrder) -> LegStatus:
        """Take the venue's view of the placement order as the truth."""
        if order.client_order_id != self.client_order_id:
            # Results are matched to activities by sequence, not content: a mix-up
            # must fail the workflow task loudly, never be reported as this leg's.
            raise LegMismatchError(
                f"leg {self.command.command_id} got the venue order {order.client_order_id}"
            )
        self._filled = order.filled_quantity
        self._avg_price = order.avg_fill_price
        self._venue_final = order.status.is_terminal
        # Still resting with a part filled: more may fill, so it is not known yet.
        self._outcome_unknown = order.status is VenueOrderStatus.PARTIALLY_FILLED
        if order.status is VenueOrderStatus.REJECTED:
            self._error = (
                f"{order.reject_error or 'REJECTED'}: "
                f"{order.reject_message or 'rejected by the venue'}"
            )
        return _status_of(order)

    def to_result(self) -> LegResult:
        c = self.command
        return LegResult(
            command_id=c.command_id,
            plan_id=c.plan_id,
            symbol=c.symbol,
            side=c.side,
            order_type=c.order_type,
            quantity=c.quantity,
            status=self._status,
            filled_quantity=self._filled,
            avg_fill_price=self._avg_price,
            compensated_quantity=self._compensated,
            exposed_quantity=self._exposed,
            client_order_id=self.client_order_id if self._started else None,
            error=self._error,
        )
