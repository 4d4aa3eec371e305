"""The JSON file format: a directive with its commands, exactly the issue's shape."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from execbatch.core.enums import BatchExecutionMode, OrderType, TimeInForce
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.strategy import ExecutionPolicy
from execbatch.planning import BaseExecutionPlanner
from execbatch.testing.factories import FIXED_TIME, ISSUE_EXAMPLE, make_directive, make_document

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_issue_example_parses() -> None:
    document = DirectiveDocument.from_json(ISSUE_EXAMPLE)
    directive = document.directive
    assert directive.directive_id == "d-42"
    assert directive.strategy_id == "pairs"
    assert directive.target_plan_ids == ("p1", "p2")
    assert directive.execution_policy == ExecutionPolicy(
        mode=BatchExecutionMode.COORDINATED, timeout_seconds=30
    )
    c1, c2 = document.commands
    assert (c1.command_id, c1.plan_id, c1.symbol, c1.order_type) == ("c1", "p1", "AAPL", "MARKET")
    assert c1.quantity == Decimal("10") and c1.limit_price is None
    assert c1.time_in_force is TimeInForce.GTC  # left out: the default
    assert c2.order_type is OrderType.LIMIT
    assert c2.limit_price == Decimal("410.25")
    assert isinstance(c2.limit_price, Decimal)


def test_the_issue_example_maps_to_a_coordinated_batch() -> None:
    document = DirectiveDocument.from_json(ISSUE_EXAMPLE)
    batch = BaseExecutionPlanner(clock=lambda: FIXED_TIME).create_batch(
        document.directive, document.commands
    )
    assert batch.mode is BatchExecutionMode.COORDINATED
    assert batch.timeout_seconds == 30
    assert batch.commands == document.commands


def test_json_round_trip_is_equal() -> None:
    document = DirectiveDocument.from_json(ISSUE_EXAMPLE)
    text = document.model_dump_json(exclude_none=True)
    assert DirectiveDocument.model_validate_json(text) == document
    assert DirectiveDocument.from_json(document.to_json()) == document


def test_output_keeps_the_shape_and_writes_money_as_strings() -> None:
    document = DirectiveDocument.from_json(ISSUE_EXAMPLE)
    data = json.loads(document.to_json())
    assert set(data) == {"directive", "commands"}
    c1, c2 = data["commands"]
    assert c1["quantity"] == "10"
    assert c2["quantity"] == "5"
    assert c2["limit_price"] == "410.25"
    assert "limit_price" not in c1  # None is left out, as the input left it out
    assert data["directive"]["execution_policy"] == {"mode": "COORDINATED", "timeout_seconds": 30}


def test_output_without_policy_leaves_the_policy_out() -> None:
    data = json.loads(make_document(make_directive()).to_json())
    assert "execution_policy" not in data["directive"]


def test_output_is_the_input_modulo_defaults() -> None:
    original = json.loads(ISSUE_EXAMPLE)
    written = json.loads(DirectiveDocument.from_json(ISSUE_EXAMPLE).to_json())
    original["commands"][0]["time_in_force"] = "GTC"  # the default, now explicit
    assert written == original


def test_decimal_precision_survives_the_round_trip() -> None:
    data = json.loads(ISSUE_EXAMPLE)
    data["commands"][0]["quantity"] = "0.00000001"
    data["commands"][1]["limit_price"] = "12345678901234567890.123456789012345678"
    document = DirectiveDocument.from_json(json.dumps(data))
    assert document.commands[0].quantity == Decimal("0.00000001")
    written = json.loads(document.to_json())
    assert written["commands"][0]["quantity"] == "0.00000001"
    assert written["commands"][1]["limit_price"] == "12345678901234567890.123456789012345678"
    assert DirectiveDocument.from_json(document.to_json()) == document


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_example_file_parses_and_round_trips(path: Path) -> None:
    document = DirectiveDocument.from_file(path)
    assert DirectiveDocument.from_json(document.to_json()) == document
    assert json.loads(document.to_json()) == _with_defaults(json.loads(path.read_text()))


def _with_defaults(data: dict[str, object]) -> dict[str, object]:
    commands = data["commands"]
    assert isinstance(commands, list)
    for command in commands:
        command.setdefault("time_in_force", "GTC")
    return data


def test_examples_cover_the_four_adr_scenarios() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.json")} >= {
        "flash_crash_close",
        "pair_trade",
        "dca",
        "rotation",
    }


# ---------------------------------------------------------------- rejected documents


def _issue_data() -> dict[str, object]:
    data = json.loads(ISSUE_EXAMPLE)
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("field", ["directive", "commands"])
def test_missing_top_level_fields_are_rejected(field: str) -> None:
    data = _issue_data()
    del data[field]
    with pytest.raises(ValidationError) as excinfo:
        DirectiveDocument.from_json(json.dumps(data))
    assert excinfo.value.errors()[0]["loc"] == (field,)
    assert excinfo.value.errors()[0]["type"] == "missing"


def test_an_unknown_top_level_field_is_rejected() -> None:
    data = _issue_data() | {"batch": {}}
    with pytest.raises(ValidationError) as excinfo:
        DirectiveDocument.from_json(json.dumps(data))
    assert excinfo.value.errors()[0]["loc"] == ("batch",)


def test_empty_commands_are_rejected() -> None:
    data = _issue_data() | {"commands": []}
    with pytest.raises(ValidationError) as excinfo:
        DirectiveDocument.from_json(json.dumps(data))
    assert excinfo.value.errors()[0]["loc"] == ("commands",)


def test_a_float_quantity_is_rejected_at_its_path() -> None:
    text = ISSUE_EXAMPLE.replace('"quantity": "10"', '"quantity": 0.1')
    with pytest.raises(ValidationError) as excinfo:
        DirectiveDocument.from_json(text)
    error = excinfo.value.errors()[0]
    assert error["loc"] == ("commands", 0, "quantity")
    assert "not a float" in error["msg"]
    assert "commands.0.quantity" in str(excinfo.value)


def test_a_policy_timeout_as_string_is_rejected_at_its_path() -> None:
    text = ISSUE_EXAMPLE.replace('"timeout_seconds": 30', '"timeout_seconds": "30"')
    with pytest.raises(ValidationError) as excinfo:
        DirectiveDocument.from_json(text)
    assert excinfo.value.errors()[0]["loc"] == ("directive", "execution_policy", "timeout_seconds")


@pytest.mark.parametrize("text", ["", "{", "[]", "null", '{"directive": 1, "commands": 2}'])
def test_malformed_json_raises_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationError):
        DirectiveDocument.from_json(text)
