"""ExecutionCommand: one order; Decimal money, limit price tied to order type."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from execbatch.core.enums import OrderSide, OrderType, TimeInForce
from execbatch.dtos.execution import ExecutionCommand
from execbatch.testing.factories import assert_rejected, command_data, make_command

UNSAFE_STRINGS = [
    "AAPL\n",
    "AAPL; DROP TABLE orders;--",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "${jndi:ldap://x}",
    "\uff21\uff21\uff30\uff2c",  # full-width AAPL
    "AAPL\u0000",
    "A:B",
    " AAPL",
    "",
]


def test_a_market_order() -> None:
    command = make_command()
    assert command.order_type is OrderType.MARKET
    assert command.side is OrderSide.BUY
    assert command.quantity == Decimal("10")
    assert isinstance(command.quantity, Decimal)
    assert command.limit_price is None
    assert command.time_in_force is TimeInForce.GTC
    assert command.describe() == "BUY 10 AAPL"


def test_a_limit_order() -> None:
    command = make_command(order_type="LIMIT", limit_price="410.25", time_in_force="IOC")
    assert command.limit_price == Decimal("410.25")
    assert isinstance(command.limit_price, Decimal)
    assert command.time_in_force is TimeInForce.IOC


def test_is_frozen_and_compared_by_value() -> None:
    command = make_command()
    with pytest.raises(ValidationError):
        command.quantity = Decimal(1)  # type: ignore[misc]
    assert command == make_command()
    assert hash(command) == hash(make_command())


@pytest.mark.parametrize("quantity", ["0", "-1", "-0.5", "0.000", "-0", 0, -3])
def test_non_positive_quantity_is_rejected(quantity: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(command_data(quantity=quantity))
    assert_rejected(excinfo, ("quantity",), "greater than 0")


@pytest.mark.parametrize("field", ["quantity", "limit_price"])
def test_a_python_float_is_rejected_as_money(field: str) -> None:
    data = command_data(order_type="LIMIT", limit_price="1") | {field: 0.1}
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(data)
    assert_rejected(excinfo, (field,), "not a float")


@pytest.mark.parametrize("field", ["quantity", "limit_price"])
@pytest.mark.parametrize("number", ["0.1", "10.0", "1e2"])
def test_a_json_number_with_a_fraction_is_rejected_as_money(field: str, number: str) -> None:
    text = json.dumps(command_data(order_type="LIMIT", limit_price="1") | {field: "X"})
    text = text.replace('"X"', number)
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate_json(text)
    assert_rejected(excinfo, (field,), "not a float")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "abc", "", True, None])
def test_nonsense_quantity_is_rejected(value: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(command_data(quantity=value))
    assert excinfo.value.errors()[0]["loc"] == ("quantity",)


@pytest.mark.parametrize("price", ["0", "-410.25"])
def test_non_positive_limit_price_is_rejected(price: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(command_data(order_type="LIMIT", limit_price=price))
    assert_rejected(excinfo, ("limit_price",), "greater than 0")


def test_limit_price_on_a_market_order_is_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(command_data(limit_price="410.25"))
    assert_rejected(excinfo, ("limit_price",), "limit_price is forbidden for a MARKET order")


def test_limit_order_without_limit_price_is_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(command_data(order_type="LIMIT"))
    assert_rejected(excinfo, ("limit_price",), "limit_price is required for a LIMIT order")
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(command_data(order_type="LIMIT", limit_price=None))
    assert_rejected(excinfo, ("limit_price",), "limit_price is required for a LIMIT order")


def test_a_bad_order_type_is_reported_once_not_as_a_limit_price_error() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(command_data(order_type="STOP", limit_price="1"))
    assert [e["loc"] for e in excinfo.value.errors()] == [("order_type",)]


@pytest.mark.parametrize(
    ("field", "value"),
    [("side", "SHORT"), ("side", "buy"), ("order_type", "STOP"), ("time_in_force", "FOK")],
)
def test_unknown_enum_values_are_rejected(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(command_data(**{field: value}))
    assert_rejected(excinfo, (field,), "Input should be")
    assert excinfo.value.errors()[0]["type"] == "enum"


@pytest.mark.parametrize(
    "field", ["command_id", "plan_id", "symbol", "side", "order_type", "quantity"]
)
def test_missing_fields_are_rejected(field: str) -> None:
    data = command_data()
    del data[field]
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(data)
    assert_rejected(excinfo, (field,), "Field required")


@pytest.mark.parametrize("bad", UNSAFE_STRINGS)
@pytest.mark.parametrize("field", ["symbol", "command_id", "plan_id"])
def test_unicode_and_injection_strings_are_rejected(field: str, bad: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(command_data(**{field: bad}))
    assert excinfo.value.errors()[0]["loc"] == (field,)
    assert field in str(excinfo.value)


@pytest.mark.parametrize("symbol", ["AAPL", "BRK.B", "BTC/USD", "ES-Z5", "7203"])
def test_ordinary_symbols_are_accepted(symbol: str) -> None:
    assert make_command(symbol=symbol).symbol == symbol


def test_lower_case_symbol_is_rejected_not_normalised() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(command_data(symbol="aapl"))
    assert excinfo.value.errors()[0]["loc"] == ("symbol",)


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExecutionCommand.model_validate(command_data(stop_price="1"))
    assert_rejected(excinfo, ("stop_price",), "Extra inputs are not permitted")


def test_decimal_precision_is_kept_exactly() -> None:
    command = make_command(order_type="LIMIT", quantity="0.00000001", limit_price="0.1")
    assert command.quantity == Decimal("0.00000001")
    assert command.quantity * 3 == Decimal("0.00000003")
    assert command.limit_price is not None
    assert command.limit_price * 3 == Decimal("0.3")  # 0.1 * 3 != 0.3 in binary floating point


def test_json_output_has_money_as_fixed_point_strings() -> None:
    command = make_command(order_type="LIMIT", quantity="0.00000001", limit_price="1E+3")
    data = json.loads(command.model_dump_json())
    assert data["quantity"] == "0.00000001"  # not "1E-8"
    assert data["limit_price"] == "1000"  # not "1E+3"
    assert ExecutionCommand.model_validate_json(command.model_dump_json()) == command


def test_an_integer_quantity_is_accepted_and_written_back_as_a_string() -> None:
    command = ExecutionCommand.model_validate_json(
        json.dumps(command_data(quantity="X")).replace('"X"', "7")
    )
    assert command.quantity == Decimal(7)
    assert json.loads(command.model_dump_json())["quantity"] == "7"
