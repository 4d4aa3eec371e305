"""``execbatch submit`` refuses bad files before anything is started.

The server address is unreachable on purpose: exit code 2 (not 1, "cannot
reach Temporal") shows the command stopped before connecting. One case also
runs against a real stack and checks no workflow exists afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.service import RPCError, RPCStatusCode

from execbatch.config.connection import connect
from execbatch.devstack import DevStack
from tests.cli.conftest import UNREACHABLE, clean_env, example_document, execbatch


def _set(path: list[object], value: object) -> Callable[[dict[str, object]], None]:
    def edit(document: dict[str, object]) -> None:
        target: object = document
        for key in path[:-1]:
            target = target[key]  # type: ignore[index]
        target[path[-1]] = value  # type: ignore[index]

    return edit


def _delete(path: list[object]) -> Callable[[dict[str, object]], None]:
    def edit(document: dict[str, object]) -> None:
        target: object = document
        for key in path[:-1]:
            target = target[key]  # type: ignore[index]
        del target[path[-1]]  # type: ignore[index, attr-defined]

    return edit


CASES = {
    "negative-quantity": (
        _set(["commands", 1, "quantity"], "-5"),
        ["commands[1].quantity", "greater than 0"],
    ),
    "float-quantity": (
        _set(["commands", 0, "quantity"], 100.5),
        ["commands[0].quantity", "decimal string"],
    ),
    "unknown-mode": (
        _set(["directive", "execution_policy", "mode"], "ATOMIC"),
        ["directive.execution_policy.mode"],
    ),
    "metadata": (_set(["metadata"], {"owner": "desk"}), ["metadata", "unknown field"]),
    "rollback-flag": (
        _set(["directive", "execution_policy", "rollback_on_failure"], True),
        ["directive.execution_policy.rollback_on_failure", "unknown field"],
    ),
    "missing-symbol": (_delete(["commands", 0, "symbol"]), ["commands[0].symbol", "missing"]),
    "plan-mismatch": (
        _set(["directive", "target_plan_ids"], ["long-aapl", "short-googl"]),
        ["target_plan_ids", "short-googl", "short-msft"],
    ),
    "no-commands": (
        _set(["commands"], []),
        ["commands: needs at least 1 item, has 0"],
    ),
    "bad-id": (
        _set(["directive", "directive_id"], "desk 42!"),
        ["directive.directive_id: may hold only letters, digits"],
    ),
    "lower-case-symbol": (
        _set(["commands", 0, "symbol"], "aapl"),
        ["commands[0].symbol: must be an upper-case symbol such as AAPL"],
    ),
    "unknown-side": (
        _set(["commands", 0, "side"], "HOLD"),
        ["commands[0].side: must be one of 'BUY' or 'SELL', not 'HOLD'"],
    ),
    "timeout-as-text": (
        _set(["directive", "execution_policy", "timeout_seconds"], "30"),
        ["directive.execution_policy.timeout_seconds: must be a whole number, not '30'"],
    ),
    "limit-without-price": (
        _set(["commands", 0, "order_type"], "LIMIT"),
        ["commands[0]", "limit_price is required"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_document_names_field_and_file_and_exits_2(case: str, tmp_path: Path) -> None:
    edit, expected = CASES[case]
    document = example_document("pair_trade", f"bad-{case}")
    edit(document)
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(document))

    run = execbatch("submit", str(path), env=clean_env(TEMPORAL_ADDRESS=UNREACHABLE))

    assert run.code == 2, run.stderr
    message = run.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert str(path) in message
    for fragment in expected:
        assert fragment in message
    assert "Traceback" not in run.stderr
    for pydantic_wording in ("Input should", "after validation", "Tuple", "String should"):
        assert pydantic_wording not in message


def test_a_document_on_standard_input(tmp_path: Path) -> None:
    document = example_document("pair_trade", "from-stdin")
    document["commands"][1]["quantity"] = "-5"  # type: ignore[index]
    proc = subprocess.run(
        [sys.executable, "-m", "execbatch.cli.app", "submit", "-"],
        input=json.dumps(document),
        env=clean_env(TEMPORAL_ADDRESS=UNREACHABLE),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: <stdin>: invalid directive document: commands[1].quantity: must be greater than 0"
    )
    empty = subprocess.run(
        [sys.executable, "-m", "execbatch.cli.app", "submit", "-"],
        input="",
        env=clean_env(TEMPORAL_ADDRESS=UNREACHABLE),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert empty.returncode == 2
    assert "<stdin> is empty" in empty.stderr


def test_whole_number_quantities_are_accepted(tmp_path: Path) -> None:
    """Quantities and prices are decimal strings or whole JSON numbers (exact either way)."""
    document = example_document("pair_trade", "integer-quantities")
    document["commands"][0]["quantity"] = 100  # type: ignore[index]
    path = tmp_path / "integers.json"
    path.write_text(json.dumps(document))
    run = execbatch("submit", str(path), env=clean_env(TEMPORAL_ADDRESS=UNREACHABLE))
    assert run.code == 1  # valid: it went on to connect
    assert "cannot reach Temporal" in run.stderr


def test_invalid_json_names_line_and_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"directive": {\n  "directive_id": "x",,\n}')
    run = execbatch("submit", str(path), env=clean_env(TEMPORAL_ADDRESS=UNREACHABLE))
    assert run.code == 2
    assert str(path) in run.stderr
    assert "not valid JSON" in run.stderr
    assert "line 2" in run.stderr


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    run = execbatch("submit", str(path), env=clean_env(TEMPORAL_ADDRESS=UNREACHABLE))
    assert run.code == 2
    assert f"cannot read {path}" in run.stderr


@pytest.mark.devserver
async def test_rejected_document_starts_no_workflow(
    dev_stack: DevStack, stack_env: dict[str, str], tmp_path: Path
) -> None:
    document = example_document("pair_trade", "never-started-metadata")
    document["metadata"] = {"owner": "desk"}
    path = tmp_path / "with-metadata.json"
    path.write_text(json.dumps(document))

    run = execbatch("submit", str(path), env=stack_env)

    assert run.code == 2
    assert "metadata: unknown field" in run.stderr
    client = await connect(dev_stack.config())
    with pytest.raises(RPCError) as info:
        await client.get_workflow_handle("batch-never-started-metadata").describe()
    assert info.value.status is RPCStatusCode.NOT_FOUND
