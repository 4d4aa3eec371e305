"""The venue continues the caller's trace: a SERVER span per request that brings a
W3C ``traceparent`` (the worker's venue call span), with the endpoint and the answer.

Spans go wherever the process's tracer provider sends them
(``execbatch.observability.tracing.configure_tracing``: OTLP from the standard
``OTEL_*`` variables; nowhere when unset). A request without a ``traceparent``
(an admin call, a script) starts no trace of its own here.
"""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from execbatch.observability.tracing import ATTR_CLIENT_ORDER_ID, ATTR_VENUE

_tracer = trace.get_tracer("execbatch.venue")


def _route(method: str, path: str) -> tuple[str, str | None]:
    """A low-cardinality span name and the client order id in the path, if any."""
    if path == "/orders":
        return f"{method} /orders", None
    if path.startswith("/orders/"):
        rest = path[len("/orders/") :]
        if rest.endswith("/cancel"):
            return f"{method} /orders/{{id}}/cancel", rest[: -len("/cancel")]
        return f"{method} /orders/{{id}}", rest
    return f"{method} {path.split('/', 2)[1] if path.count('/') else path}", None


class TraceContextMiddleware:
    """Opens a SERVER span for each request carrying a ``traceparent`` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        if "traceparent" not in carrier:
            await self.app(scope, receive, send)
            return
        context = propagate.extract(carrier)
        name, client_order_id = _route(scope["method"], scope["path"])
        attributes = {"http.request.method": scope["method"], ATTR_VENUE: "paper"}
        if client_order_id:
            attributes[ATTR_CLIENT_ORDER_ID] = client_order_id
        with _tracer.start_as_current_span(
            f"venue {name}", context=context, kind=SpanKind.SERVER, attributes=attributes
        ) as span:

            async def send_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            await self.app(scope, receive, send_status)
