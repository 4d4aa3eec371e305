"""The ccxt adapter (ccxt, unmodified, on an aiohttp session of ours) sends the
caller's W3C ``traceparent``, and the paper venue's Binance dialect continues that
trace: its server spans (written to the venue's log by the console exporter) have
the caller's trace id and span as parent."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from opentelemetry.sdk.trace import TracerProvider

from execbatch.core.enums import OrderSide, OrderType, TimeInForce
from execbatch.venue.adapters.ccxt_adapter import CcxtAdapter
from execbatch.venue.paper.service.process import VenueProcess
from execbatch.venue.port.orders import OrderRequest
from tests.venue.binance.helpers import BinanceSetup
from tests.venue.helpers import SPANS_TO_LOG, new_id, venue_spans_of_trace


@pytest.fixture(scope="module")
def venue() -> Iterator[VenueProcess]:
    """This module's own venue, writing its spans to its log."""
    with VenueProcess(env=SPANS_TO_LOG) as process:
        yield process


async def test_the_venue_continues_the_trace_of_a_ccxt_call(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, venue: VenueProcess
) -> None:
    tracer = TracerProvider().get_tracer("test")
    request = OrderRequest(
        client_order_id=new_id("cx"),
        account=binance.account,
        symbol=binance.symbol,
        side=OrderSide.BUY,
        order_type=OrderType.MARKET,
        quantity=Decimal("1.000"),
        time_in_force=TimeInForce.GTC,
    )
    with tracer.start_as_current_span("venue place_order") as caller:
        await ccxt_adapter.place_order(request)
    context = caller.get_span_context()
    spans = await venue_spans_of_trace(venue.log_text, context.trace_id, "venue POST /api/v3/order")
    names = {span["name"] for span in spans}
    assert "venue POST /api/v3/order" in names, names
    # the venue's own server spans (FastAPI adds spans of its own under them)
    ours = [span for span in spans if span["name"].startswith("venue ")]
    assert {span["parent_id"] for span in ours} == {f"0x{context.span_id:016x}"}
    assert {span["attributes"]["execbatch.venue"] for span in ours} == {"paper-binance"}
