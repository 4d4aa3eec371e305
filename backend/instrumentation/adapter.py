"""Every venue call counted, timed and traced, whatever the venue.

``InstrumentedAdapter`` wraps any ``ExchangeAdapter``: each call becomes
``execbatch_venue_calls_total{venue, operation, outcome}`` and an
observation of ``execbatch_venue_call_duration_seconds``, and a CLIENT span
``venue <operation>`` (a child of the activity's span) carrying the venue,
the client order id and the outcome. An adapter that speaks HTTP injects the
W3C ``traceparent`` of that span into its request (the paper venue's does),
so the venue continues the trace.

The wrapper returns and raises exactly what the adapter does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from opentelemetry.trace import SpanKind, Status, StatusCode

from execbatch.observability.metrics import timed_venue_call
from execbatch.observability.tracing import (
    ATTR_CLIENT_ORDER_ID,
    ATTR_OPERATION,
    ATTR_OUTCOME,
    ATTR_VENUE,
    tracer,
)
from execbatch.venue.port.adapter import (
    ExchangeAdapter,
    OrderConflict,
    OrderNotFound,
    VenueRejection,
    VenueUnavailable,
)
from execbatch.venue.port.capabilities import VenueCapabilities
from execbatch.venue.port.orders import OrderRequest, Position, VenueOrder

T = TypeVar("T")


def outcome_of(exc: BaseException | None) -> str:
    """A venue call's outcome label: bounded, one of six."""
    if exc is None:
        return "ok"
    if isinstance(exc, VenueRejection):
        return "rejected"
    if isinstance(exc, OrderConflict):
        return "conflict"
    if isinstance(exc, OrderNotFound):
        return "not_found"
    if isinstance(exc, VenueUnavailable):
        return "unavailable"
    return "error"


def venue_name(adapter: object) -> str:
    """The venue's name from its capabilities (a test double without them: its class)."""
    capabilities = getattr(adapter, "capabilities", None)
    name = getattr(capabilities, "venue", None)
    return name if isinstance(name, str) else type(adapter).__name__


class InstrumentedAdapter:
    """An ``ExchangeAdapter`` that measures every call of the one it wraps."""

    def __init__(self, adapter: ExchangeAdapter) -> None:
        self._adapter = adapter
        self._venue = venue_name(adapter)

    @property
    def venue(self) -> str:
        return self._venue

    @property
    def wrapped(self) -> ExchangeAdapter:
        return self._adapter

    @property
    def capabilities(self) -> VenueCapabilities:
        return self._adapter.capabilities

    def account_refusal(self, account: str) -> str | None:
        return self._adapter.account_refusal(account)

    async def _call(
        self, operation: str, client_order_id: str | None, call: Callable[[], Awaitable[T]]
    ) -> T:
        attributes: dict[str, Any] = {ATTR_VENUE: self._venue, ATTR_OPERATION: operation}
        if client_order_id is not None:
            attributes[ATTR_CLIENT_ORDER_ID] = client_order_id
        with (
            tracer().start_as_current_span(
                f"venue {operation}",
                kind=SpanKind.CLIENT,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span,
            timed_venue_call(self._venue, operation) as report,
        ):
            try:
                result = await call()
            except BaseException as exc:
                outcome = outcome_of(exc)
                report(outcome)
                span.set_attribute(ATTR_OUTCOME, outcome)
                if outcome in ("unavailable", "error"):
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            report("ok")
            span.set_attribute(ATTR_OUTCOME, "ok")
            return result

    async def place_order(
        self, request: OrderRequest, *, earlier_sends_by: datetime | None = None
    ) -> VenueOrder:
        return await self._call(
            "place_order",
            request.client_order_id,
            lambda: self._adapter.place_order(request, earlier_sends_by=earlier_sends_by),
        )

    async def get_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        return await self._call(
            "get_order",
            client_order_id,
            lambda: self._adapter.get_order(client_order_id, symbol=symbol),
        )

    async def cancel_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        return await self._call(
            "cancel_order",
            client_order_id,
            lambda: self._adapter.cancel_order(client_order_id, symbol=symbol),
        )

    async def positions(self, account: str) -> list[Position]:
        return await self._call("positions", None, lambda: self._adapter.positions(account))

    async def aclose(self) -> None:
        await self._adapter.aclose()

    def __getattr__(self, name: str) -> Any:
        """Anything beyond the port (``get_account``, say) goes to the adapter untouched."""
        return getattr(self._adapter, name)


def instrument(adapter: ExchangeAdapter) -> ExchangeAdapter:
    """``adapter`` wrapped once (wrapping an instrumented adapter again returns it)."""
    if isinstance(adapter, InstrumentedAdapter):
        return adapter
    return InstrumentedAdapter(adapter)
