"""Small builders for the DTOs and venue orders, in the spirit of NautilusTrader's
test kit (its stub factories ship with the library, so users testing their own
batches get them too).

Every builder returns a valid object; keyword arguments override a field. The
``*_data`` builders return plain JSON-shaped dicts so a test can break one
field and feed the payload to ``model_validate`` / ``model_validate_json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from execbatch.core.enums import (
    BatchExecutionMode,
    OrderSide,
    OrderType,
    TimeInForce,
    VenueOrderStatus,
)
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommand, ExecutionCommandBatch
from execbatch.dtos.strategy import ExecutionPolicy, StrategyDirective
from execbatch.venue.port.orders import VenueOrder

FIXED_TIME = datetime(2025, 12, 7, 9, 30, tzinfo=UTC)

ISSUE_EXAMPLE = (
    '{"directive": {"directive_id": "d-42", "strategy_id": "pairs", '
    '"target_plan_ids": ["p1", "p2"], '
    '"execution_policy": {"mode": "COORDINATED", "timeout_seconds": 30}}, '
    '"commands": [{"command_id": "c1", "plan_id": "p1", "symbol": "AAPL", "side": "BUY", '
    '"order_type": "MARKET", "quantity": "10"}, '
    '{"command_id": "c2", "plan_id": "p2", "symbol": "MSFT", "side": "SELL", '
    '"order_type": "LIMIT", "quantity": "5", "limit_price": "410.25", "time_in_force": "GTC"}]}'
)
"""The JSON document from issue 3, verbatim: the file format other tools write."""


def command_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "command_id": "c1",
        "plan_id": "p1",
        "symbol": "AAPL",
        "side": "BUY",
        "order_type": "MARKET",
        "quantity": "10",
    }
    data.update(overrides)
    return data


def make_command(**overrides: Any) -> ExecutionCommand:
    return ExecutionCommand.model_validate(command_data(**overrides))


def commands_for(plan_ids: Sequence[str]) -> list[ExecutionCommand]:
    """One MARKET command per plan id, in order, with command ids c1, c2, ..."""
    return [
        make_command(command_id=f"c{i}", plan_id=plan_id)
        for i, plan_id in enumerate(plan_ids, start=1)
    ]


def directive_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "directive_id": "d-42",
        "strategy_id": "pairs",
        "target_plan_ids": ["p1", "p2"],
    }
    data.update(overrides)
    return data


def make_directive(
    *,
    mode: BatchExecutionMode | None = None,
    timeout_seconds: int | None = None,
    **overrides: Any,
) -> StrategyDirective:
    """A directive; a policy is attached only when ``mode`` or ``timeout_seconds`` is given."""
    data = directive_data(**overrides)
    if mode is not None or timeout_seconds is not None:
        policy = ExecutionPolicy(
            mode=mode or BatchExecutionMode.INDEPENDENT, timeout_seconds=timeout_seconds
        )
        data["execution_policy"] = policy
    return StrategyDirective.model_validate(data)


def batch_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "batch_id": "batch-d-42",
        "commands": [command_data(), command_data(command_id="c2", plan_id="p2", side="SELL")],
        "created_at": "2025-12-07T09:30:00Z",
        "mode": "INDEPENDENT",
    }
    data.update(overrides)
    return data


def make_batch(**overrides: Any) -> ExecutionCommandBatch:
    return ExecutionCommandBatch.model_validate(batch_data(**overrides))


def make_document(directive: StrategyDirective | None = None) -> DirectiveDocument:
    directive = directive or make_directive()
    return DirectiveDocument(
        directive=directive, commands=tuple(commands_for(directive.target_plan_ids))
    )


def make_venue_order(
    client_order_id: str = "batch-d-42:c1:place",
    *,
    status: VenueOrderStatus = VenueOrderStatus.FILLED,
    quantity: Decimal | str = "10",
    filled: Decimal | str | None = None,
    **overrides: Any,
) -> VenueOrder:
    """A venue's report of an order: FILLED in full unless ``status``/``filled`` say
    otherwise (a NEW order has nothing filled unless ``filled`` is given)."""
    quantity = Decimal(quantity)
    if filled is None:
        filled = quantity if status is VenueOrderStatus.FILLED else Decimal(0)
    fields: dict[str, Any] = {
        "client_order_id": client_order_id,
        "venue_order_id": "V1",
        "account": "default",
        "symbol": "AAPL",
        "side": OrderSide.BUY,
        "order_type": OrderType.MARKET,
        "quantity": quantity,
        "time_in_force": TimeInForce.GTC,
        "status": status,
        "filled_quantity": Decimal(filled),
        "avg_fill_price": Decimal("190") if Decimal(filled) > 0 else None,
        "created_at": FIXED_TIME,
        "updated_at": FIXED_TIME,
    }
    fields.update(overrides)
    return VenueOrder(**fields)


def assert_rejected(
    excinfo: pytest.ExceptionInfo[ValidationError], loc: tuple[str | int, ...], text: str
) -> None:
    """The ValidationError has an error at exactly ``loc`` whose message contains ``text``,
    and its rendered message (what a user sees) names the offending field."""
    errors = excinfo.value.errors()
    at_loc = [e for e in errors if tuple(e["loc"]) == loc]
    assert at_loc, f"no error at {loc}; errors: {[(e['loc'], e['msg']) for e in errors]}"
    assert any(text in e["msg"] for e in at_loc), [e["msg"] for e in at_loc]
    field = next(part for part in reversed(loc) if isinstance(part, str))
    assert field in str(excinfo.value)
