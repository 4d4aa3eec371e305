"""The leg state machine: every allowed transition does what the table says, and
every other one raises (a bug must never be reported as a leg's outcome)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execbatch.core.enums import LegStatus, VenueOrderStatus
from execbatch.testing.factories import make_command, make_venue_order
from execbatch.workflows.leg_state import (
    TRANSITIONS,
    FollowEnded,
    FollowStarted,
    IllegalLegTransition,
    Interrupted,
    LegEvent,
    LegMismatchError,
    LegState,
    NeverPlaced,
    PlacementFailed,
    PlacementStarted,
    Recovering,
    Rejected,
    Reverted,
    RevertFailed,
    RevertStarted,
    SettleFailed,
    Skipped,
    VenueAnswered,
)

CID = "batch-d-42:c1:place"


def leg() -> LegState:
    return LegState(make_command(quantity="10"), "batch-d-42", 0)


def answered(status: VenueOrderStatus, filled: str | None = None) -> VenueAnswered:
    return VenueAnswered(make_venue_order(CID, status=status, filled=filled))


def test_a_pair_leg_that_fills_then_is_reverted() -> None:
    state = leg()
    state.apply(PlacementStarted())
    state.apply(answered(VenueOrderStatus.NEW))
    assert state.status is LegStatus.PLACED and state.needs_settling()
    state.apply(FollowStarted())
    state.apply(answered(VenueOrderStatus.FILLED))
    state.apply(FollowEnded())
    assert state.fully_filled and state.can_be_reverted()
    state.apply(RevertStarted())
    assert state.status is LegStatus.COMPENSATING
    state.apply(Reverted(Decimal(10)))
    result = state.to_result()
    assert (result.status, result.filled_quantity, result.compensated_quantity) == (
        LegStatus.COMPENSATED,
        Decimal(10),
        Decimal(10),
    )


def test_a_failed_revert_leaves_the_fill_exposed_and_the_status_it_had() -> None:
    state = leg()
    state.apply(PlacementStarted())
    state.apply(answered(VenueOrderStatus.CANCELED, filled="4"))
    assert state.status is LegStatus.PARTIALLY_FILLED
    state.apply(RevertStarted())
    state.apply(RevertFailed("VENUE_UNAVAILABLE: down"))
    assert state.status is LegStatus.PARTIALLY_FILLED
    assert state.exposed_quantity == Decimal(4)
    assert "compensation failed, 4 AAPL exposed" in (state.error or "")


def test_placement_failure_is_unknown_until_the_venue_answers_a_cancel() -> None:
    state = leg()
    state.apply(PlacementStarted())
    state.apply(PlacementFailed("placement failed: timeout"))
    assert state.status is LegStatus.FAILED and state.needs_settling()
    state.apply(answered(VenueOrderStatus.CANCELED))  # fenced: it never landed
    assert state.status is LegStatus.CANCELLED and not state.needs_settling()


def test_a_settlement_treats_every_leg_as_maybe_placed() -> None:
    state = leg()
    state.apply(Recovering())
    assert state.started and state.needs_settling()
    state.apply(SettleFailed("VENUE_UNAVAILABLE"))
    assert state.exposed_quantity == Decimal(10)


@pytest.mark.parametrize(
    ("events", "illegal"),
    [
        ([], Reverted(Decimal(1))),  # a revert that never started
        ([], RevertStarted()),  # nothing filled to revert
        ([Skipped()], PlacementStarted()),  # a skipped leg is never placed
        ([PlacementStarted(), answered(VenueOrderStatus.FILLED)], Skipped()),
        # A venue-final order never changes: FILLED cannot become CANCELLED.
        (
            [PlacementStarted(), answered(VenueOrderStatus.FILLED)],
            answered(VenueOrderStatus.CANCELED),
        ),
        ([PlacementStarted(), Rejected("INVALID_ORDER", "no")], PlacementFailed("x")),
        ([PlacementStarted()], FollowStarted()),  # nothing rests yet
    ],
)
def test_an_impossible_transition_raises(events: list[LegEvent], illegal: LegEvent) -> None:
    state = leg()
    for event in events:
        state.apply(event)
    before = state.status
    with pytest.raises(IllegalLegTransition, match=type(illegal).__name__):
        state.apply(illegal)
    assert state.status is before


def test_an_answer_for_another_order_is_a_bug() -> None:
    state = leg()
    state.apply(PlacementStarted())
    with pytest.raises(LegMismatchError):
        state.apply(VenueAnswered(make_venue_order("batch-d-42:c2:place")))


EVENTS = st.sampled_from(
    [
        PlacementStarted(),
        Recovering(),
        answered(VenueOrderStatus.NEW),
        answered(VenueOrderStatus.PARTIALLY_FILLED, filled="3"),
        answered(VenueOrderStatus.FILLED),
        answered(VenueOrderStatus.CANCELED),
        answered(VenueOrderStatus.REJECTED),
        Rejected("INVALID_ORDER", "no"),
        Rejected("TRADING_HALTED", "halted", maybe_sent_until=datetime(2025, 12, 7, tzinfo=UTC)),
        NeverPlaced(),
        VenueAnswered(
            answered(VenueOrderStatus.CANCELED).order.model_copy(update={"fenced": True})
        ),
        PlacementFailed("timeout"),
        Interrupted(),
        FollowStarted(),
        FollowEnded(),
        Skipped(),
        SettleFailed("down"),
        RevertStarted(),
        Reverted(Decimal(10)),
        RevertFailed("down"),
    ]
)


@given(st.lists(EVENTS, max_size=12))
def test_any_sequence_only_moves_along_the_table(events: list[LegEvent]) -> None:
    state = leg()
    for event in events:
        before = state.status
        allowed = TRANSITIONS[type(event)].get(before)
        try:
            state.apply(event)
        except IllegalLegTransition:
            assert state.status is before
            continue
        assert allowed is not None and state.status in allowed
        assert state.exposed_quantity >= 0 and state.filled_quantity >= 0


def test_every_event_has_a_row() -> None:
    assert set(TRANSITIONS) == set(LegEvent.__args__)  # type: ignore[attr-defined]


HALT_AT = datetime(2025, 12, 7, 9, 30, tzinfo=UTC)


def gate_refused() -> LegState:
    """A leg whose placement attempt was refused by the trading state, after an earlier
    attempt (or a lost workflow task's) may have sent it."""
    state = leg()
    state.apply(PlacementStarted())
    state.apply(Rejected("TRADING_HALTED", "trading is HALTED", maybe_sent_until=HALT_AT))
    return state


def test_a_gate_refusal_that_may_have_been_sent_is_settled_and_stays_rejected() -> None:
    state = gate_refused()
    assert state.status is LegStatus.REJECTED
    assert state.needs_settling() and state.attempts_end == HALT_AT
    tombstone = make_venue_order(CID, status=VenueOrderStatus.CANCELED)
    state.apply(VenueAnswered(tombstone.model_copy(update={"fenced": True})))
    assert state.status is LegStatus.REJECTED and not state.needs_settling()
    assert state.to_result().error == "TRADING_HALTED: trading is HALTED"


def test_a_gate_refused_leg_the_venue_never_saw_stays_rejected() -> None:
    state = gate_refused()
    state.apply(NeverPlaced())
    assert state.status is LegStatus.REJECTED and not state.needs_settling()


def test_a_gate_refused_leg_an_earlier_attempt_placed_takes_the_venue_order() -> None:
    """The lost attempt's order filled: the leg reports it (and a COORDINATED batch
    reverts it), never REJECTED with a fill nobody knows of."""
    state = gate_refused()
    state.apply(answered(VenueOrderStatus.FILLED))
    assert state.status is LegStatus.FILLED and state.filled_quantity == 10
    assert state.can_be_reverted()
    # The gate refused a later attempt only: the reason says so, never "not placed".
    error = state.to_result().error
    assert error is not None and "trading is HALTED" not in error
    assert "placed by an earlier attempt" in error and "TRADING_HALTED" in error


def test_a_gate_refused_leg_the_venue_had_rejected_reports_the_venues_reason() -> None:
    state = gate_refused()
    state.apply(answered(VenueOrderStatus.REJECTED))
    assert state.status is LegStatus.REJECTED and not state.needs_settling()
    assert "TRADING_HALTED" not in (state.to_result().error or "")


def test_a_later_answer_replaces_a_settle_that_failed() -> None:
    """A settle cut short (a cancel during it) records the leg as unknown and exposed;
    the wind-down's own look-up after it is the leg's state."""
    state = leg()
    state.apply(PlacementStarted())
    state.apply(PlacementFailed("placement failed: VENUE_UNAVAILABLE: 503"))
    state.apply(SettleFailed("Cancelled"))
    assert state.exposed_quantity == 10
    state.apply(NeverPlaced())
    assert state.status is LegStatus.CANCELLED and state.exposed_quantity == 0
    assert state.to_result().error == "placement failed: VENUE_UNAVAILABLE: 503"


def test_the_venues_own_rejection_stays_final() -> None:
    state = leg()
    state.apply(PlacementStarted())
    state.apply(answered(VenueOrderStatus.REJECTED))
    assert not state.needs_settling()
    with pytest.raises(IllegalLegTransition):
        state.apply(answered(VenueOrderStatus.FILLED))
    with pytest.raises(IllegalLegTransition):
        state.apply(NeverPlaced())
    assert state.status is LegStatus.REJECTED
