"""The venue continues the caller's trace: a SERVER span per request that brings a
W3C ``traceparent`` (the worker's venue call span), with the endpoint and the answer.

Spans go wherever the process's tracer provider sends them
(``execbatch.observability.tracing.configure_tracing``: OTLP from the standard
``OTEL_*`` variables; nowhere when unset). A request without a ``traceparent``
(an admin call, a script) starts no trace of its own here.

The dialects (Alpaca's ``/v2/...``, Binance's ``/api/v3/...``) continue the
trace the same way: the Alpaca adapter (alpaca-py's ``requests`` session) and
the ccxt adapter (ccxt's aiohttp session) send the ``traceparent`` too. Their
spans are named by route template (``venue POST /v2/orders``, ``venue GET
/v2/orders/{id}``), carry ``execbatch.venue`` = ``paper-alpaca`` or
``paper-binance``, and the client order id when the request names one in its
path or as ``client_order_id`` / ``origClientOrderId`` in its query string
(Binance's query string also holds the order itself: only the id is read).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from execbatch.observability.tracing import ATTR_CLIENT_ORDER_ID, ATTR_VENUE

_tracer = trace.get_tracer("execbatch.venue")


_ID_PARAMS = ("client_order_id", "origClientOrderId")
"""Query parameters that name a client order id (Alpaca's look-up, Binance's)."""


def _dialect_route(method: str, path: str) -> tuple[str, str]:
    """A dialect request's span name (a route template) and its venue attribute."""
    if path.startswith("/v2/"):
        parts = path.split("/")  # "", "v2", resource, [id-or-symbol], ...
        if len(parts) > 3 and parts[2] in ("orders", "positions", "assets"):
            parts[3] = "{symbol}" if parts[2] in ("positions", "assets") else "{id}"
        return f"{method} {'/'.join(parts)}", "paper-alpaca"
    return f"{method} {path}", "paper-binance"


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
        path: str = scope["path"]
        venue = "paper"
        if path.startswith(("/v2/", "/api/")):
            name, venue = _dialect_route(scope["method"], path)
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            ids = [query[key][0] for key in _ID_PARAMS if query.get(key)]
            client_order_id = ids[0] if ids else None
        else:
            name, client_order_id = _route(scope["method"], path)
        attributes = {"http.request.method": scope["method"], ATTR_VENUE: venue}
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
