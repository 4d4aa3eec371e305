"""One trace from ``submit`` through the workflow to every activity, every venue call
and into the paper venue: the span tree of a compensated pair trade, from the OTel
SDK's in-memory exporter. Attributes carry ids and outcomes, never quantities."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from execbatch.client.batch_client import BatchClient
from execbatch.core.enums import BatchStatus
from execbatch.dtos.execution import ExecutionSettings
from execbatch.instrumentation.interceptors import client_interceptors
from execbatch.temporal.converter import build_data_converter
from execbatch.testing.documents import batch_id_of
from execbatch.venue.adapters import PaperVenueAdapter, PaperVenueAdmin
from execbatch.worker import build_worker
from tests.workflows.conftest import load_example

pytestmark = pytest.mark.devserver

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """The process's tracer provider, with an in-memory exporter (installed once)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    yield EXPORTER


def tree(spans: list[ReadableSpan]) -> list[str]:
    """``name  {attributes}`` lines, indented by depth, children in start order."""
    by_parent: dict[int | None, list[ReadableSpan]] = {}
    ids = {s.context.span_id for s in spans}
    for span in spans:
        parent = span.parent.span_id if span.parent and span.parent.span_id in ids else None
        by_parent.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: (s.start_time or 0, s.name)):
            shown = {
                k.removeprefix("execbatch."): v
                for k, v in (span.attributes or {}).items()
                if k.startswith("execbatch.") and k not in ("execbatch.batch_id", "execbatch.mode")
            }
            lines.append(f"{'  ' * depth}{span.name}  {shown if shown else ''}".rstrip())
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return lines


async def test_span_tree_of_a_compensated_pair_trade(
    spans: InMemorySpanExporter,
    dev_server_env: WorkflowEnvironment,
    venue_app: httpx.AsyncClient,
) -> None:
    target = dev_server_env.client.service_client.config.target_host
    client = await Client.connect(
        target, data_converter=build_data_converter(), interceptors=client_interceptors()
    )
    assert client_interceptors(), "an SDK tracer provider is installed"
    account = f"trace-{uuid.uuid4().hex[:8]}"
    admin = PaperVenueAdmin("http://venue", client=venue_app)
    await admin.set_prices({"AAPL": "187.50", "MSFT": "410.10"})
    await admin.fund_account(account, Decimal("1000000"))
    document = load_example("pair_trade")
    batch_id = batch_id_of(document)
    await admin.add_fault(
        kind="reject", error="INSUFFICIENT_FUNDS", client_order_id_prefix=f"{batch_id}:c2:"
    )
    adapter = PaperVenueAdapter("http://venue", account=account, client=venue_app)
    queue = f"trace-{uuid.uuid4().hex[:8]}"
    spans.clear()
    async with build_worker(client, queue, adapter):
        batches = BatchClient(client, queue, settings=ExecutionSettings(account=account))
        result = await (await batches.submit_document(document)).handle.result()
    assert result.status is BatchStatus.COMPENSATED

    finished = [s for s in spans.get_finished_spans() if s.name != "QueryWorkflow:status"]
    roots = [s for s in finished if s.name == "submit batch"]
    assert len(roots) == 1
    trace_id = roots[0].context.trace_id
    ours = [s for s in finished if s.context.trace_id == trace_id]
    lines = tree(ours)
    print("\n" + "\n".join(lines))

    # one trace: submit -> workflow -> activities -> venue calls -> the venue's server spans
    text = "\n".join(lines)
    assert lines[0].startswith("submit batch")
    assert lines[1].strip().startswith("StartWorkflow:ExecutionBatchWorkflow")
    assert lines[2].strip().startswith("RunWorkflow:ExecutionBatchWorkflow")
    for expected in (
        "StartActivity:place_leg",
        "RunActivity:place_leg",
        "venue place_order",
        "venue POST /orders",
        "StartActivity:revert_leg",
        "RunActivity:revert_leg",
        "FinishBatch",
    ):
        assert expected in text, expected
    # every span is in the one tree (nothing orphaned at the root)
    assert sum(1 for line in lines if not line.startswith(" ")) == 1

    def find(name: str, **attrs: object) -> ReadableSpan:
        for span in ours:
            a = span.attributes or {}
            if span.name == name and all(a.get(f"execbatch.{k}") == v for k, v in attrs.items()):
                return span
        raise AssertionError(f"no span {name} {attrs}")

    # Placements go through the trading-state check before every send (docs/RISK.md).
    placed = find("StartActivity:place_leg_checked", leg_index=1, command_id="c2")
    assert (placed.attributes or {})["execbatch.client_order_id"] == f"{batch_id}:c2:place"
    assert (placed.attributes or {})["execbatch.mode"] == "COORDINATED"
    assert (placed.attributes or {})["execbatch.batch_id"] == batch_id
    find("venue place_order", client_order_id=f"{batch_id}:c2:place", outcome="rejected")
    find("venue place_order", client_order_id=f"{batch_id}:c1:place", outcome="ok")
    find("venue place_order", client_order_id=f"{batch_id}:c1:revert-1", outcome="ok")
    find("FinishBatch", status="COMPENSATED")
    server = find("venue POST /orders", client_order_id=None) if False else None
    del server
    venue_side = [s for s in ours if s.name == "venue POST /orders"]
    assert venue_side and all(s.kind is trace.SpanKind.SERVER for s in venue_side)

    # ids and outcomes only: no quantity, price or symbol in any attribute
    for span in ours:
        for key, value in (span.attributes or {}).items():
            text_value = str(value)
            for leaked in ("AAPL", "MSFT", "187.5", "410.1"):
                assert leaked not in text_value, f"{span.name}: {key}={value}"
            assert key not in ("quantity", "limit_price", "symbol")
