"""``execbatch positions`` and ``execbatch orders`` against a real dev stack."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from tests.cli.conftest import example_document, execbatch

pytestmark = pytest.mark.devserver


def _net(env: dict[str, str]) -> dict[str, Decimal]:
    run = execbatch("positions", "--json", env=env)
    assert run.code == 0, run.stderr
    rows: list[dict[str, str]] = json.loads(run.stdout)
    return {row["symbol"]: Decimal(row["quantity"]) for row in rows}


def test_positions_show_what_a_batch_bought_and_sold(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    before = _net(stack_env)
    path = tmp_path / "pair.json"
    path.write_text(json.dumps(example_document("pair_trade", f"cli-pos-{uuid.uuid4().hex[:8]}")))
    assert execbatch("submit", str(path), "--json", env=stack_env).code == 0

    after = _net(stack_env)
    assert after["AAPL"] - before.get("AAPL", Decimal(0)) == 100
    assert after["MSFT"] - before.get("MSFT", Decimal(0)) == -46
    table = execbatch("positions", env=stack_env)
    assert table.code == 0, table.stderr
    assert "positions of account default" in table.stdout
    [aapl] = [line for line in table.stdout.splitlines() if " AAPL " in line]
    assert f" {after['AAPL']:f} " in aapl


def test_orders_show_a_batchs_placements_and_reverts(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    directive_id = f"cli-orders-{uuid.uuid4().hex[:8]}"
    batch_id = f"batch-{directive_id}"
    document = example_document("pair_trade", directive_id)
    second = document["commands"][1]  # type: ignore[index]
    second.update(order_type="LIMIT", limit_price="999.00")  # SELL MSFT far above: it rests
    path = tmp_path / "resting-pair.json"
    path.write_text(json.dumps(document))
    assert execbatch("submit", str(path), env=stack_env).code == 0
    cancelled = execbatch("cancel", batch_id, "--json", env=stack_env)  # leg 1 is bought back
    assert cancelled.code == 0, cancelled.stderr

    run = execbatch("orders", batch_id, "--json", env=stack_env)

    assert run.code == 0, run.stderr
    orders = json.loads(run.stdout)
    assert [
        (o["command_id"], o["role"], o["client_order_id"], o["side"], o["quantity"], o["status"])
        for o in orders
    ] == [
        ("c1", "place", f"{batch_id}:c1:place", "BUY", "100", "FILLED"),
        ("c1", "revert-1", f"{batch_id}:c1:revert-1", "SELL", "100", "FILLED"),
        ("c2", "place", f"{batch_id}:c2:place", "SELL", "46", "CANCELED"),
    ]
    assert [o["filled_quantity"] for o in orders] == ["100", "100", "0"]

    table = execbatch("orders", batch_id, env=stack_env)
    assert table.code == 0, table.stderr
    assert f"venue orders of batch {batch_id}" in table.stdout
    for column in ("client order id", "side", "quantity", "filled", "status"):
        assert column in table.stdout
    assert f"{batch_id}:c1:revert-1" in table.stdout


def test_orders_of_an_unknown_batch_and_positions_of_an_unknown_account(
    stack_env: dict[str, str],
) -> None:
    orders = execbatch("orders", "batch-does-not-exist", env=stack_env)
    assert orders.code == 1
    assert orders.stderr.startswith("error: no batch with id 'batch-does-not-exist'")
    assert len(orders.stderr.strip().splitlines()) == 1

    positions = execbatch("positions", "--account", "nobody", env=stack_env)
    assert positions.code == 1
    assert positions.stderr.strip() == "error: the venue has no account 'nobody'"
