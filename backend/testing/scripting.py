"""Scripting the paper venue per test: reject a leg, partial-fill, slow down, lose answers.

Each call adds one fault rule to the real venue process (``POST /admin/faults``,
see docs/VENUE.md) and returns it. Rules are matched in creation order and
cleared between tests by the kit.

How a rule is aimed:

* ``document=..., leg=N`` (1-based, or a command id) targets exactly that
  leg's placement order (its client order id), nothing else;
* ``document=...`` alone targets every order of that batch, compensations
  included;
* ``symbol=`` / ``side=`` filter placements further; a rule given only a
  symbol also matches a compensation order of that symbol, which is why most
  kinds fire once (``times=1``) unless told otherwise.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from execbatch.core.enums import OrderSide
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.testing.documents import batch_id_of, placement_id_of
from execbatch.venue.adapters.paper import PaperVenueAdmin
from execbatch.venue.paper.wire import FaultEndpoint, FaultKind, FaultRule, FaultRuleSpec

RejectionCode = Literal["INSUFFICIENT_FUNDS", "UNKNOWN_SYMBOL", "INVALID_ORDER"]


def _prefix(document: DirectiveDocument | None, leg: int | str | None) -> str | None:
    if leg is not None:
        if document is None:
            raise ValueError("leg= needs document=: a leg is only known within its batch")
        return placement_id_of(document, leg)
    if document is not None:
        return f"{batch_id_of(document)}:"
    return None


class VenueScript:
    """``kit.script``: fault rules on the kit's venue, aimed at symbols, batches or legs."""

    def __init__(self, admin: PaperVenueAdmin) -> None:
        self._admin = admin

    async def reject(
        self,
        symbol: str | None = None,
        *,
        document: DirectiveDocument | None = None,
        leg: int | str | None = None,
        side: OrderSide | None = None,
        error: RejectionCode = "INSUFFICIENT_FUNDS",
        message: str | None = None,
        times: int | None = 1,
    ) -> FaultRule:
        """The venue rejects the placement (HTTP 422 ``error``): a business
        rejection, never retried; the leg ends REJECTED."""
        return await self._add(
            FaultKind.REJECT,
            symbol,
            document,
            leg,
            side,
            times,
            error=error,
            message=message or f"scripted rejection: {error}",
        )

    async def partial_fill(
        self,
        symbol: str | None = None,
        fraction: Decimal | str = "0.5",
        *,
        document: DirectiveDocument | None = None,
        leg: int | str | None = None,
        side: OrderSide | None = None,
        times: int | None = 1,
    ) -> FaultRule:
        """The order's first fill covers only ``fraction`` of it; a MARKET/IOC
        remainder is cancelled at once, a LIMIT GTC remainder rests."""
        return await self._add(
            FaultKind.PARTIAL_FILL, symbol, document, leg, side, times, fraction=Decimal(fraction)
        )

    async def slow(
        self,
        symbol: str | None = None,
        seconds: Decimal | str | float = 1,
        *,
        document: DirectiveDocument | None = None,
        leg: int | str | None = None,
        side: OrderSide | None = None,
        times: int | None = None,
    ) -> FaultRule:
        """Placements answer ``seconds`` late (then normally). Past the
        activity's ``venue_call_timeout_seconds`` this becomes a timeout and a
        retry, which finds the order the slow call placed."""
        delay = Decimal(str(seconds))
        return await self._add(
            FaultKind.LATENCY, symbol, document, leg, side, times, delay_seconds=delay
        )

    async def lose_response(
        self,
        symbol: str | None = None,
        *,
        document: DirectiveDocument | None = None,
        leg: int | str | None = None,
        side: OrderSide | None = None,
        times: int | None = 1,
    ) -> FaultRule:
        """The order is placed and committed, but the answer is lost (503): the
        activity retries with the same client order id and finds the order."""
        return await self._add(FaultKind.FAIL_AFTER_PLACE, symbol, document, leg, side, times)

    async def unavailable(
        self,
        symbol: str | None = None,
        times: int | None = 1,
        *,
        document: DirectiveDocument | None = None,
        leg: int | str | None = None,
        side: OrderSide | None = None,
    ) -> FaultRule:
        """The next ``times`` placements answer 503 without doing anything
        (``times=None``: all of them, until ``clear()``)."""
        return await self._add(FaultKind.ERROR_503, symbol, document, leg, side, times)

    async def clear(self) -> int:
        """Remove every fault rule; returns how many there were."""
        return await self._admin.clear_faults()

    async def rules(self) -> list[FaultRule]:
        """The rules in force, with how often each has fired (``hits``)."""
        return await self._admin.faults()

    async def _add(
        self,
        kind: FaultKind,
        symbol: str | None,
        document: DirectiveDocument | None,
        leg: int | str | None,
        side: OrderSide | None,
        times: int | None,
        **parameters: object,
    ) -> FaultRule:
        spec = FaultRuleSpec.model_validate(
            {
                "kind": kind,
                "endpoint": FaultEndpoint.PLACE,
                "symbol": symbol,
                "side": side,
                "client_order_id_prefix": _prefix(document, leg),
                "max_hits": times,
                **parameters,
            }
        )
        return await self._admin.add_fault(spec)
