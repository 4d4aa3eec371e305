"""JSON log events carry the ids; metric names and labels follow Prometheus conventions."""

from __future__ import annotations

import io
import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from execbatch.observability.logs import JsonFormatter, log_context
from execbatch.observability.metrics import REGISTRY
from execbatch.observability.tracing import exporter_configured


def test_json_log_event_is_one_line_with_the_ids() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(redact_extras=True))
    logger = logging.getLogger("execbatch.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with log_context(
            batch_id="batch-d-1", command_id="c1", client_order_id="batch-d-1:c1:place"
        ):
            logger.warning("placed\nsecond line", extra={"symbol": "HUSHA"})
            try:
                raise ValueError("boom")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "placed\nsecond line"
    assert (first["batch_id"], first["command_id"], first["client_order_id"]) == (
        "batch-d-1",
        "c1",
        "batch-d-1:c1:place",
    )
    assert "symbol" not in first  # order data stays out when the codec is on
    # the exception's type and frames stay; its message (a venue's text quotes the order) goes
    assert "ValueError: (message redacted" in second["exception"]
    assert "ValueError: boom" not in second["exception"]


def test_metric_names_and_labels_follow_prometheus_conventions() -> None:
    from prometheus_client import generate_latest

    families = list(text_string_to_metric_families(generate_latest(REGISTRY).decode()))
    ours = [f for f in families if f.name.startswith("execbatch_")]
    assert {f.name for f in ours} >= {
        "execbatch_batches_started",
        "execbatch_batches_finished",
        "execbatch_venue_call_duration_seconds",
        "execbatch_exposed_quantity",
    }
    unbounded = {"batch_id", "command_id", "client_order_id", "workflow_id", "run_id"}
    for family in ours:
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        for sample in family.samples:
            assert not unbounded & set(sample.labels), (family.name, sample.labels)


def test_traces_are_off_unless_an_otlp_endpoint_is_set() -> None:
    assert not exporter_configured({})
    assert exporter_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert not exporter_configured(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}
    )
    assert not exporter_configured(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}
    )
