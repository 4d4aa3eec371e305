"""The Alpaca adapter (alpaca-py, unmodified) sends the caller's W3C ``traceparent``,
and the paper venue's Alpaca dialect continues that trace: its server span (written
to the venue's log by the console exporter) has the caller's trace id and span as
parent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from execbatch.venue.adapters.alpaca import AlpacaAdapter
from execbatch.venue.paper.service.process import VenueProcess
from tests.venue.helpers import SPANS_TO_LOG, order, venue_spans_of_trace


@pytest.fixture(scope="module")
def venue() -> Iterator[VenueProcess]:
    """This module's own venue, writing its spans to its log."""
    with VenueProcess(env=SPANS_TO_LOG) as process:
        yield process


async def test_the_venue_continues_the_trace_of_an_alpaca_call(
    alpaca: AlpacaAdapter, account: str, venue: VenueProcess
) -> None:
    tracer = TracerProvider().get_tracer("test")
    request = order(account, "MSFT", quantity="2")
    with tracer.start_as_current_span("venue place_order") as caller:
        await alpaca.place_order(request)
    context = caller.get_span_context()
    spans = await venue_spans_of_trace(venue.log_text, context.trace_id, "venue POST /v2/orders")
    placed = [span for span in spans if span["name"] == "venue POST /v2/orders"]
    assert placed, [span["name"] for span in spans]
    assert placed[0]["parent_id"] == f"0x{context.span_id:016x}"
    assert placed[0]["attributes"]["execbatch.venue"] == "paper-alpaca"
    assert placed[0]["attributes"]["http.response.status_code"] == 200


async def test_no_span_no_trace(alpaca: AlpacaAdapter, account: str, venue: VenueProcess) -> None:
    """Outside a span nothing is sent, and the venue starts no trace of its own."""
    before = venue.log_text().count('"name":"venue ')
    await alpaca.place_order(order(account, "MSFT", quantity="1"))
    assert venue.log_text().count('"name":"venue ') == before
