"""The pre-trade decision, one limit and one trading state at a time."""

from __future__ import annotations

from decimal import Decimal

from execbatch.core.enums import OrderSide, OrderType
from execbatch.dtos.execution.execution_command import ExecutionCommand
from execbatch.risk.decision import RiskInputs, check_legs
from execbatch.risk.limits import AccountLimits
from execbatch.risk.states import TradingState

D = Decimal


def leg(cid: str, symbol: str, side: str, qty: str, limit: str | None = None) -> ExecutionCommand:
    return ExecutionCommand(
        command_id=cid,
        plan_id=f"p-{cid}",
        symbol=symbol,
        side=OrderSide(side),
        order_type=OrderType.LIMIT if limit else OrderType.MARKET,
        quantity=D(qty),
        limit_price=D(limit) if limit else None,
    )


def inputs(**kw: object) -> RiskInputs:
    base: dict[str, object] = {
        "account": "a",
        "limits": AccountLimits(),
        "positions": {},
        "prices": {"AAPL": D(100), "MSFT": D(50)},
    }
    base.update(kw)
    return RiskInputs.model_validate(base)


def test_max_order_notional_names_leg_limit_and_value() -> None:
    [b] = check_legs(
        [leg("c1", "AAPL", "BUY", "10"), leg("c2", "AAPL", "BUY", "60")],
        inputs(limits=AccountLimits(max_order_notional=D(5000))),
    )
    assert b.describe() == "leg c2: max_order_notional 6000 > 5000"


def test_limit_price_is_the_price_of_a_limit_order() -> None:
    [b] = check_legs(
        [leg("c1", "AAPL", "BUY", "10", limit="600")],
        inputs(limits=AccountLimits(max_order_notional=D(5000))),
    )
    assert b.value == "6000"


def test_max_batch_notional_refuses_the_legs_beyond_it() -> None:
    breaches = check_legs(
        [
            leg("c1", "AAPL", "BUY", "30"),
            leg("c2", "MSFT", "SELL", "50"),
            leg("c3", "MSFT", "BUY", "1"),
        ],
        inputs(limits=AccountLimits(max_batch_notional=D(5000))),
    )
    assert [(b.command_id, b.limit, b.value) for b in breaches] == [
        ("c2", "max_batch_notional", "5500")
    ]


def test_max_position_counts_the_venue_position_and_earlier_legs() -> None:
    breaches = check_legs(
        [leg("c1", "AAPL", "BUY", "30"), leg("c2", "AAPL", "BUY", "30")],
        inputs(limits=AccountLimits(max_position=D(100)), positions={"AAPL": D(50)}),
    )
    assert [b.describe() for b in breaches] == ["leg c2: max_position AAPL 110 > 100"]


def test_a_leg_that_reduces_a_position_over_the_limit_passes() -> None:
    assert not check_legs(
        [leg("c1", "AAPL", "SELL", "30")],
        inputs(limits=AccountLimits(max_position=D(100)), positions={"AAPL": D(200)}),
    )


def test_allowed_and_refused_symbols() -> None:
    limits = AccountLimits(allowed_symbols=frozenset({"AAPL", "MSFT"}), refused_symbols={"MSFT"})
    breaches = check_legs(
        [
            leg("c1", "AAPL", "BUY", "1"),
            leg("c2", "MSFT", "BUY", "1"),
            leg("c3", "GME", "BUY", "1"),
        ],
        inputs(limits=limits),
    )
    assert [(b.command_id, b.limit) for b in breaches] == [
        ("c2", "refused_symbols"),
        ("c3", "allowed_symbols"),
    ]


def test_no_reference_price_refuses_when_notional_is_limited() -> None:
    [b] = check_legs(
        [leg("c1", "TSLA", "BUY", "1")], inputs(limits=AccountLimits(max_order_notional=D(1)))
    )
    assert b.limit == "reference price"
    assert not check_legs([leg("c1", "TSLA", "BUY", "1")], inputs())


def test_halted_refuses_every_leg() -> None:
    breaches = check_legs(
        [leg("c1", "AAPL", "SELL", "1"), leg("c2", "MSFT", "BUY", "1")],
        inputs(state=TradingState.HALTED, state_reason="global HALTED: test"),
    )
    assert [b.message for b in breaches] == ["trading state: HALTED (global HALTED: test)"] * 2


def test_reducing_lets_through_only_legs_that_reduce_by_at_most_the_position() -> None:
    breaches = check_legs(
        [
            leg("c1", "AAPL", "SELL", "60"),  # 100 -> 40: reduces
            leg("c2", "AAPL", "SELL", "50"),  # 40 -> -10: flips, refused
            leg("c3", "MSFT", "BUY", "5"),  # no position: refused
            leg("c4", "AAPL", "SELL", "40"),  # 40 -> 0: reduces
        ],
        inputs(state=TradingState.REDUCING, positions={"AAPL": D(100)}),
    )
    assert [b.command_id for b in breaches] == ["c2", "c3"]
