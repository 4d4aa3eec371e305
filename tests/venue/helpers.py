"""Helpers shared by the venue tests."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from execbatch.core.enums import OrderSide, OrderType, TimeInForce
from execbatch.venue.port.orders import OrderRequest

START_CASH = Decimal("1000000")


def new_id(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def new_symbol() -> str:
    """A symbol nobody else prices, so a test can move its price freely."""
    return f"T{uuid.uuid4().hex[:10].upper()}"


def order(
    account: str,
    symbol: str = "AAPL",
    side: OrderSide = OrderSide.BUY,
    quantity: str = "10",
    *,
    order_type: OrderType = OrderType.MARKET,
    limit_price: str | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    client_order_id: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id or new_id(),
        account=account,
        symbol=symbol,
        side=side,
        order_type=order_type,
        quantity=Decimal(quantity),
        limit_price=None if limit_price is None else Decimal(limit_price),
        time_in_force=tif,
    )


SPANS_TO_LOG = {"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "50"}
"""A venue process's environment that makes it write its spans to its log, one JSON
line each (``execbatch.observability.tracing``, the SDK's console exporter)."""


async def venue_spans_of_trace(
    log_text: Callable[[], str], trace_id: int, name: str, *, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """The venue's spans of ``trace_id`` (from its log), once one called ``name`` is there
    (spans are exported in batches, so they come a little after the answer)."""
    wanted = f"0x{trace_id:032x}"
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        spans = [
            span
            for line in log_text().splitlines()
            if line.startswith('{"name"')
            for span in [json.loads(line)]
            if span["context"]["trace_id"] == wanted
        ]
        found = any(span["name"] == name for span in spans)
        if found or asyncio.get_running_loop().time() > deadline:
            return spans
        await asyncio.sleep(0.05)
