"""OpenTelemetry traces: an exporter from the standard OTel environment, off when unset.

``configure_tracing(service)`` installs an SDK ``TracerProvider`` exporting
OTLP over HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set; the exporter itself reads
the rest of the standard variables (headers, timeout, compression), the
resource reads ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``, and
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` keep it off.

``tracing_active()`` says whether spans go anywhere (an SDK provider is
installed, by us or by the embedding program, a test's in-memory exporter
included): the worker and the clients add Temporal's tracing interceptor only
then, so an untraced deployment pays nothing.

Attributes are ids and outcomes only (batch id, mode, leg index, command id,
client order id, venue, outcome): never a quantity, a price or a symbol, so
a trace shows nothing the payload codec hides.
"""

from __future__ import annotations

import logging
import os
import threading

from opentelemetry import trace

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


def exporter_configured(environ: dict[str, str] | None = None) -> bool:
    """Whether the OTel environment asks for an OTLP trace exporter."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() in ("none", ""):
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


def configure_tracing(service_name: str) -> bool:
    """Install an OTLP-exporting tracer provider if the environment asks for one.

    Returns whether tracing is active afterwards. Never installs twice, and
    leaves a provider the embedding program set alone.
    """
    with _lock:
        if tracing_active():
            return True
        if not exporter_configured():
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        protocol = os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
        )
        if protocol and protocol != "http/protobuf":
            log.warning(
                "OTEL_EXPORTER_OTLP_PROTOCOL=%s is not supported here; exporting http/protobuf",
                protocol,
            )
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        _configured.add(service_name)
        log.info("traces exported over OTLP (service.name=%s)", service_name)
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
