"""Property-based tests: generated documents through parse -> create_batch.

* valid documents always map to a batch with the same commands and the copied policy;
* a valid document broken in one known way always raises ValidationError naming the field;
* arbitrary input never fails with anything but ValidationError or PlanMismatchError.
"""

from __future__ import annotations

import contextlib
import json
import re
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from execbatch.core.enums import BatchExecutionMode, OrderSide, OrderType, TimeInForce
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommandBatch
from execbatch.planning import BaseExecutionPlanner, PlanMismatchError, batch_id_for
from execbatch.testing.factories import FIXED_TIME

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,99}")

ids = st.from_regex(ID_RE, fullmatch=True)
symbols = st.from_regex(r"[A-Z0-9][A-Z0-9./\-]{0,31}", fullmatch=True)
positive_decimals = st.builds(
    lambda digits, places: Decimal(digits).scaleb(-places),
    st.integers(min_value=1, max_value=10**20 - 1),  # the models allow 20 whole digits
    st.integers(min_value=0, max_value=18),
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)


def pipeline(text: str | bytes) -> ExecutionCommandBatch:
    """What the CLI does with a file: parse it, then map it to a batch."""
    document = DirectiveDocument.from_json(text)
    return BaseExecutionPlanner(clock=lambda: FIXED_TIME).create_batch(
        document.directive, document.commands
    )


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON-shaped document that must be accepted: one command per plan, in order."""
    plan_ids = draw(st.lists(ids, min_size=1, max_size=6, unique=True))
    command_ids = draw(st.lists(ids, min_size=len(plan_ids), max_size=len(plan_ids), unique=True))
    directive: dict[str, Any] = {
        "directive_id": draw(ids),
        "strategy_id": draw(ids),
        "target_plan_ids": plan_ids,
    }
    if draw(st.booleans()):
        directive["execution_policy"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "mode": st.sampled_from([m.value for m in BatchExecutionMode]),
                    "timeout_seconds": st.none() | st.integers(1, 7 * 24 * 3600),
                },
            )
        )
    commands = []
    for command_id, plan_id in zip(command_ids, plan_ids, strict=True):
        order_type = draw(st.sampled_from([t.value for t in OrderType]))
        command: dict[str, Any] = {
            "command_id": command_id,
            "plan_id": plan_id,
            "symbol": draw(symbols),
            "side": draw(st.sampled_from([s.value for s in OrderSide])),
            "order_type": order_type,
            "quantity": str(draw(positive_decimals)),
        }
        if order_type == "LIMIT":
            command["limit_price"] = str(draw(positive_decimals))
        if draw(st.booleans()):
            command["time_in_force"] = draw(st.sampled_from([t.value for t in TimeInForce]))
        commands.append(command)
    return {"directive": directive, "commands": commands}


@FUZZ
@given(valid_documents())
def test_valid_documents_always_map_to_a_batch_with_the_same_commands(
    data: dict[str, Any],
) -> None:
    batch = pipeline(json.dumps(data))
    document = DirectiveDocument.from_json(json.dumps(data))

    assert batch.commands == document.commands
    assert [c.plan_id for c in batch.commands] == data["directive"]["target_plan_ids"]
    assert [c.quantity for c in batch.commands] == [
        Decimal(c["quantity"]) for c in data["commands"]
    ]
    policy = data["directive"].get("execution_policy") or {}
    assert batch.mode.value == policy.get("mode", "INDEPENDENT")
    assert batch.timeout_seconds == policy.get("timeout_seconds")
    assert batch.batch_id == batch_id_for(data["directive"]["directive_id"])

    assert DirectiveDocument.from_json(document.to_json()) == document
    assert DirectiveDocument.model_validate_json(document.model_dump_json(exclude_none=True)) == (
        document
    )
    assert ExecutionCommandBatch.model_validate_json(batch.model_dump_json()) == batch
    written = json.loads(document.to_json())
    for command in written["commands"]:
        assert isinstance(command["quantity"], str)
        assert "E" not in command["quantity"]  # fixed-point, never scientific


# ---------------------------------------------------------------- one known breakage


def _command_index(draw: st.DrawFn, data: dict[str, Any]) -> int:
    return draw(st.integers(0, len(data["commands"]) - 1))


def _bad_text(pattern: re.Pattern[str]) -> st.SearchStrategy[str]:
    return st.text(max_size=120).filter(lambda s: pattern.fullmatch(s) is None)


@st.composite
def broken_documents(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[str | int, ...]]:
    """A valid document with one field broken, and the loc the error must name."""
    data = draw(valid_documents())
    directive, commands = data["directive"], data["commands"]
    kind = draw(
        st.sampled_from(
            [
                "quantity",
                "limit_price_vs_type",
                "enum",
                "missing_command_field",
                "missing_directive_field",
                "bad_id",
                "bad_symbol",
                "plan_ids",
                "timeout",
                "mode",
                "extra",
                "duplicate_command_id",
            ]
        )
    )
    if kind == "quantity":
        i = _command_index(draw, data)
        commands[i]["quantity"] = draw(
            st.sampled_from(["0", "-1", "-0.00000001", "NaN", "Infinity", "ten", "", None, True])
            | st.floats()
            | st.integers(max_value=0)
        )
        return data, ("commands", i, "quantity")
    if kind == "limit_price_vs_type":
        i = _command_index(draw, data)
        if commands[i]["order_type"] == "LIMIT":
            del commands[i]["limit_price"]
        else:
            commands[i]["limit_price"] = str(draw(positive_decimals))
        return data, ("commands", i, "limit_price")
    if kind == "enum":
        i = _command_index(draw, data)
        field, enum = draw(
            st.sampled_from(
                [("side", OrderSide), ("order_type", OrderType), ("time_in_force", TimeInForce)]
            )
        )
        commands[i][field] = draw(st.text(max_size=12).filter(lambda s: s not in enum.__members__))
        return data, ("commands", i, field)
    if kind == "missing_command_field":
        i = _command_index(draw, data)
        field = draw(
            st.sampled_from(["command_id", "plan_id", "symbol", "side", "order_type", "quantity"])
        )
        del commands[i][field]
        return data, ("commands", i, field)
    if kind == "missing_directive_field":
        field = draw(st.sampled_from(["directive_id", "strategy_id", "target_plan_ids"]))
        del directive[field]
        return data, ("directive", field)
    if kind == "bad_id":
        where = draw(st.sampled_from(["directive_id", "strategy_id", "command_id", "plan_id"]))
        bad = draw(_bad_text(ID_RE))
        if where in ("directive_id", "strategy_id"):
            directive[where] = bad
            return data, ("directive", where)
        i = _command_index(draw, data)
        commands[i][where] = bad
        return data, ("commands", i, where)
    if kind == "bad_symbol":
        i = _command_index(draw, data)
        commands[i]["symbol"] = draw(_bad_text(re.compile(r"[A-Z0-9][A-Z0-9./\-]{0,31}")))
        return data, ("commands", i, "symbol")
    if kind == "plan_ids":
        plan_ids = directive["target_plan_ids"]
        directive["target_plan_ids"] = draw(
            st.sampled_from([[], [*plan_ids, plan_ids[0]], [plan_ids[-1], *plan_ids]])
        )
        return data, ("directive", "target_plan_ids")
    if kind == "timeout":
        directive["execution_policy"] = {
            "timeout_seconds": draw(
                st.sampled_from([0, -1, "30", 1.5, 30.0, True]) | st.integers(max_value=0)
            )
        }
        return data, ("directive", "execution_policy", "timeout_seconds")
    if kind == "mode":
        modes = BatchExecutionMode.__members__
        directive["execution_policy"] = {
            "mode": draw(st.text(max_size=12).filter(lambda s: s not in modes))
        }
        return data, ("directive", "execution_policy", "mode")
    if kind == "extra":
        field = draw(
            st.sampled_from(["metadata", "rollback_on_failure", "execution_mode", "notes"])
        )
        target = draw(st.sampled_from(["top", "directive", "command"]))
        value = draw(json_values)
        if target == "top":
            data[field] = value
            return data, (field,)
        if target == "directive":
            directive[field] = value
            return data, ("directive", field)
        i = _command_index(draw, data)
        commands[i][field] = value
        return data, ("commands", i, field)
    assert kind == "duplicate_command_id"
    assume(len(commands) > 1)
    commands[-1]["command_id"] = commands[0]["command_id"]
    return data, ("commands",)  # caught when the batch is built


@FUZZ
@given(broken_documents())
def test_broken_documents_always_raise_a_validation_error_naming_the_field(
    case: tuple[dict[str, Any], tuple[str | int, ...]],
) -> None:
    data, loc = case
    try:
        pipeline(json.dumps(data))
    except ValidationError as error:
        locs = [tuple(e["loc"]) for e in error.errors()]
        assert loc in locs, (loc, locs)
        field = next(part for part in reversed(loc) if isinstance(part, str))
        assert field in str(error)
    else:
        raise AssertionError(f"accepted a document broken at {loc}: {data}")


# ---------------------------------------------------------------- plan correspondence


@FUZZ
@given(valid_documents(), st.randoms(use_true_random=False))
def test_reordered_or_dropped_commands_raise_plan_mismatch(data: dict[str, Any], rnd: Any) -> None:
    commands = data["commands"]
    assume(len(commands) > 1)
    original = [c["plan_id"] for c in commands]
    if rnd.random() < 0.5:
        rnd.shuffle(commands)
        assume([c["plan_id"] for c in commands] != original)
        expected = "out of order"
    else:
        dropped = commands.pop(rnd.randrange(len(commands)))
        expected = repr(dropped["plan_id"])
    try:
        pipeline(json.dumps(data))
    except PlanMismatchError as error:
        assert expected in str(error)
    else:
        raise AssertionError("commands that do not match target_plan_ids were accepted")


# ---------------------------------------------------------------- never a crash


@st.composite
def corrupted_documents(draw: st.DrawFn) -> Any:
    """A valid document with an arbitrary JSON value put at an arbitrary place."""
    data: Any = draw(valid_documents())
    node = data
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        child = node[key]
        if not isinstance(child, dict | list) or not child:
            node[key] = draw(json_values)
            return data
        node = child
    if isinstance(node, dict):
        node[draw(st.text(max_size=10))] = draw(json_values)
    elif isinstance(node, list):
        node.append(draw(json_values))
    return data


@FUZZ
@given(corrupted_documents() | json_values)
def test_any_json_fails_only_with_validation_or_plan_mismatch(data: Any) -> None:
    # Anything else (TypeError, KeyError, ...) propagates and fails the test.
    # NaN/Infinity floats are included: Python's json writes them.
    with contextlib.suppress(ValidationError, PlanMismatchError):
        pipeline(json.dumps(data))


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_fail_only_with_validation_error(raw: bytes | str) -> None:
    with contextlib.suppress(ValidationError):
        pipeline(raw)
