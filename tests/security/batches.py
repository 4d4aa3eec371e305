"""Batches whose contents are easy to spot: if a marker shows up in plain text, it leaked."""

from __future__ import annotations

import uuid
from decimal import Decimal

from execbatch.core.enums import BatchExecutionMode
from execbatch.dtos.directive_document import DirectiveDocument

MARKER_SYMBOLS = {"HUSHA": Decimal("101.25"), "HUSHB": Decimal("55.50")}
UNPRICED_SYMBOL = "HUSHNOPRICE"
MARKER_STRATEGY = "hushstrategy"
MARKERS = (*MARKER_SYMBOLS, UNPRICED_SYMBOL, MARKER_STRATEGY)


def secret_document(mode: BatchExecutionMode, *, reject_second: bool = False) -> DirectiveDocument:
    """Two BUY MARKET legs on marker symbols; ``reject_second`` makes leg 2 cost more
    than the account holds, so the venue itself rejects it at placement
    (INSUFFICIENT_FUNDS) and failures show up in the history too (an unknown symbol is
    refused before placing now, by the pre-trade check, and leaves no failure). The
    directive id carries no marker: ids are plain text in Temporal by design."""
    second_quantity = "999999999999" if reject_second else "23"
    return DirectiveDocument.model_validate(
        {
            "directive": {
                "directive_id": f"sec-{mode.value.lower()}-{uuid.uuid4().hex[:8]}",
                "strategy_id": MARKER_STRATEGY,
                "target_plan_ids": ["p1", "p2"],
                "execution_policy": {"mode": mode.value, "timeout_seconds": 60},
            },
            "commands": [
                {
                    "command_id": "c1",
                    "plan_id": "p1",
                    "symbol": "HUSHA",
                    "side": "BUY",
                    "order_type": "MARKET",
                    "quantity": "17",
                },
                {
                    "command_id": "c2",
                    "plan_id": "p2",
                    "symbol": "HUSHB",
                    "side": "BUY",
                    "order_type": "MARKET",
                    "quantity": second_quantity,
                },
            ],
        }
    )
