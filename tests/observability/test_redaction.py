"""Exporters from ``OTEL_TRACES_EXPORTER``, and exception messages kept out of spans and
logs when the payload codec is on (the end-to-end check is
tests/security/test_no_secret_leaks.py; these pin the pieces)."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from temporalio.exceptions import ApplicationError

from execbatch.observability import tracing
from execbatch.observability.logs import JsonFormatter, format_exception_redacted
from execbatch.observability.tracing import RedactingSpanExporter, exporter_names

SECRET = "no reference price for symbol 'ZQXLEAK'"


def test_exporter_names_follow_the_otel_variables() -> None:
    assert exporter_names({}) == []
    assert exporter_names({"OTEL_TRACES_EXPORTER": "console"}) == ["console"]
    assert exporter_names({"OTEL_TRACES_EXPORTER": "otlp,console"}) == ["console"]
    assert exporter_names(
        {"OTEL_TRACES_EXPORTER": "otlp, console", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}
    ) == ["otlp", "console"]
    assert exporter_names({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}) == []
    assert exporter_names({"OTEL_TRACES_EXPORTER": "none"}) == []


def test_an_unknown_exporter_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="no-such-exporter"):
        tracing._exporter("no-such-exporter")


def test_console_spans_are_one_json_line_each() -> None:
    exporter = tracing._exporter("console")
    assert isinstance(exporter, ConsoleSpanExporter)
    out = io.StringIO()
    exporter.out = out
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("one", attributes={"a": 1}):
        pass
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["name"] == "one"


def failing_span(exporter: InMemorySpanExporter, redact: bool) -> None:
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(RedactingSpanExporter(exporter) if redact else exporter)
    )
    tracer = provider.get_tracer("t")
    with (
        pytest.raises(ApplicationError),
        tracer.start_as_current_span("RunActivity:place", attributes={"execbatch.x": "id"}),
    ):
        raise ApplicationError(f"UNKNOWN_SYMBOL: {SECRET}", type="UNKNOWN_SYMBOL")


def test_redacted_spans_keep_the_exception_type_not_its_message() -> None:
    plain, redacted = InMemorySpanExporter(), InMemorySpanExporter()
    failing_span(plain, redact=False)
    failing_span(redacted, redact=True)
    assert "ZQXLEAK" in str(plain.get_finished_spans()[0].to_json())
    (span,) = redacted.get_finished_spans()
    assert "ZQXLEAK" not in span.to_json()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ApplicationError"
    (event,) = span.events
    assert event.attributes is not None
    assert event.attributes["exception.type"].endswith("ApplicationError")  # type: ignore[union-attr]
    assert "exception.message" not in event.attributes
    assert span.attributes == {"execbatch.x": "id"}


def test_logged_exceptions_keep_type_code_and_frames_not_messages() -> None:
    try:
        try:
            raise KeyError(SECRET)
        except KeyError as exc:
            raise ApplicationError(SECRET, type="UNKNOWN_SYMBOL") from exc
    except ApplicationError as exc:
        text = format_exception_redacted(exc)
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert "ZQXLEAK" not in text
    assert "builtins.KeyError" in text and "[type=UNKNOWN_SYMBOL]" in text
    assert "test_logged_exceptions_keep_type_code_and_frames_not_messages" in text
    assert "ZQXLEAK" not in JsonFormatter(redact_extras=True).format(record)
    assert "ZQXLEAK" in JsonFormatter(redact_extras=False).format(record)
