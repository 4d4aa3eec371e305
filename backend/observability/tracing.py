"""OpenTelemetry traces: exporters from the standard OTel environment, off when unset.

``configure_tracing(service)`` installs an SDK ``TracerProvider`` with the
exporters ``OTEL_TRACES_EXPORTER`` names (a comma-separated list, default
``otlp``), each behind the SDK's ``BatchSpanProcessor`` (``OTEL_BSP_*``):

* ``otlp``: OTLP over HTTP, only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set; the exporter itself reads
  the rest of the standard variables (headers, timeout, compression);
* ``console``: the SDK's ``ConsoleSpanExporter``, one span per line as compact
  JSON on **stderr** (stdout of our CLI is data: ``--json`` output). For a
  look at spans without a collector, and for tests that read a child
  process's spans from its log;
* any other name: the exporter registered under that name in the standard
  ``opentelemetry_traces_exporter`` entry-point group (what
  ``opentelemetry-instrument`` would load), built with no arguments.

The resource reads ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``;
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` keep it off.

``tracing_active()`` says whether spans go anywhere (an SDK provider is
installed, by us or by the embedding program, a test's in-memory exporter
included): the worker and the clients add Temporal's tracing interceptor only
then, so an untraced deployment pays nothing.

Attributes are ids and outcomes only (batch id, mode, leg index, command id,
client order id, venue, outcome): never a quantity, a price or a symbol, so
a trace shows nothing the payload codec hides. Exceptions are another matter:
Temporal's tracing interceptor puts an activity's exception message into the
span's status and an ``exception`` event (message and stack trace), and a
venue's rejection text quotes the order ("no reference price for symbol
'X'"). So with the payload codec on (or ``redact=True``) every exporter sits
behind ``RedactingSpanExporter``, which keeps the exception's type and drops
its message and stack trace; the failure itself stays readable, encrypted, in
the workflow history (Web UI with the codec server).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points

from opentelemetry import trace
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

log = logging.getLogger("execbatch.observability")

_lock = threading.Lock()
_configured: set[str] = set()

ATTR_BATCH_ID = "execbatch.batch_id"
ATTR_MODE = "execbatch.mode"
ATTR_LEG_INDEX = "execbatch.leg_index"
ATTR_COMMAND_ID = "execbatch.command_id"
ATTR_CLIENT_ORDER_ID = "execbatch.client_order_id"
ATTR_VENUE = "execbatch.venue"
ATTR_OUTCOME = "execbatch.outcome"
ATTR_OPERATION = "execbatch.venue_operation"
ATTR_RECOVERY_OF = "execbatch.recovery_of"
ATTR_STATUS = "execbatch.status"


def exporter_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """The trace exporters the OTel environment asks for (``otlp`` only with an endpoint)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [
        name.strip().lower()
        for name in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")
        if name.strip() and name.strip().lower() != "none"
    ]
    endpoint = bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )
    return [name for name in dict.fromkeys(names) if name != "otlp" or endpoint]


def exporter_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the OTel environment asks for any trace exporter."""
    return bool(exporter_names(environ))


def _one_line(span: ReadableSpan) -> str:
    """A span as one line of compact JSON (the SDK's default is indented, many lines)."""
    return json.dumps(json.loads(span.to_json()), separators=(",", ":")) + "\n"


def _exporter(name: str) -> SpanExporter:
    """The span exporter ``OTEL_TRACES_EXPORTER`` calls ``name``."""
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        protocol = os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
        )
        if protocol and protocol != "http/protobuf":
            log.warning(
                "OTEL_EXPORTER_OTLP_PROTOCOL=%s is not supported here; exporting http/protobuf",
                protocol,
            )
        return OTLPSpanExporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr, formatter=_one_line)
    found = list(entry_points(group="opentelemetry_traces_exporter", name=name))
    if not found:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER names {name!r}, but no package registers a trace exporter"
            " by that name (group opentelemetry_traces_exporter)"
        )
    factory = found[0].load()
    exporter = factory()
    if not isinstance(exporter, SpanExporter):
        kind = type(exporter).__name__
        raise TypeError(f"trace exporter {name!r} is a {kind}, not a SpanExporter")
    return exporter


class RedactingSpanExporter(SpanExporter):
    """Passes spans on without exception messages (see the module docstring).

    A span's status description becomes the exception's type (Temporal writes
    ``"<Type>: <message>"``); an ``exception`` event keeps ``exception.type`` and
    ``exception.escaped`` and loses ``exception.message`` and
    ``exception.stacktrace`` (whose last line repeats the message). Everything
    else (names, ids, attributes, links, timings) is passed on as it is.
    """

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([redact_span(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def redact_span(span: ReadableSpan) -> ReadableSpan:
    """``span`` without exception messages (a copy; spans are immutable once ended)."""
    description = span.status.description
    events = [_redact_event(event) for event in span.events]
    if description is None and events == list(span.events):
        return span
    status = Status(span.status.status_code, description.split(":", 1)[0] if description else None)
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


_EXCEPTION_TEXT = ("exception.message", "exception.stacktrace")


def _redact_event(event: Event) -> Event:
    attributes = event.attributes or {}
    if event.name != "exception" or not any(key in attributes for key in _EXCEPTION_TEXT):
        return event
    kept = {key: value for key, value in attributes.items() if key not in _EXCEPTION_TEXT}
    return Event(event.name, attributes=kept, timestamp=event.timestamp)


def configure_tracing(service_name: str, *, redact: bool | None = None) -> bool:
    """Install a tracer provider with the exporters the environment asks for, if any.

    ``redact``: drop exception messages from spans (``RedactingSpanExporter``);
    default: when the payload codec is configured. Returns whether tracing is
    active afterwards. Never installs twice, and leaves a provider the
    embedding program set alone.
    """
    with _lock:
        if tracing_active():
            return True
        names = exporter_names()
        if not names:
            return False
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        if redact is None:
            from execbatch.security.codec import codec_from_env

            redact = codec_from_env() is not None
        exporters = [_exporter(name) for name in names]
        if redact:
            exporters = [RedactingSpanExporter(exporter) for exporter in exporters]
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        for exporter in exporters:
            provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _configured.add(service_name)
        log.info(
            "traces exported to %s (service.name=%s%s)",
            ", ".join(names),
            service_name,
            ", exception messages redacted" if redact else "",
        )
        return True


def tracing_active() -> bool:
    """Whether an SDK tracer provider is installed (spans are recorded somewhere)."""
    from opentelemetry.sdk.trace import TracerProvider

    return isinstance(trace.get_tracer_provider(), TracerProvider)


def shutdown_tracing() -> None:
    """Flush what is buffered (at process exit)."""
    provider = trace.get_tracer_provider()
    flush = getattr(provider, "force_flush", None)
    if callable(flush):
        flush()


def tracer() -> trace.Tracer:
    return trace.get_tracer("execbatch")
