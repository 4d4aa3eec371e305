"""A recording HTTP/1.1 proxy between the workers and the venue.

The venue counts requests per endpoint, not per client order id, and a venue
restart resets its counters. To prove that a business rejection is never
placed again and that a transient fault is, the chaos run needs every order
request the workers sent, in order, with the answer each got. This proxy
records exactly that (time, method, path, client order id, HTTP status,
error code, how long the venue took) and forwards the bytes unchanged.

It speaks just enough HTTP/1.1 for httpx's, requests' (alpaca-py) and
aiohttp's (ccxt) requests (``Content-Length`` framed, keep-alive). While the
venue is down (restarted mid-run) it answers 502, which every adapter treats
like any 5xx: transient, retry.

A ``Dialect`` tells which requests are order requests and reads their client
order id and error code: the paper venue's native API (``/orders``), Alpaca's
(``/v2/orders``: the id is in the body, the query, or, for ``/v2/orders/{id}``,
learnt from an earlier answer naming that order) and Binance spot's
(``/api/v3/order``: ``newClientOrderId`` / ``origClientOrderId``). Error codes
are named as the worker's adapter reads them (``INSUFFICIENT_FUNDS``,
``UNKNOWN_SYMBOL``, ``INVALID_ORDER`` for business rejections; ``DUPLICATE_ID``,
``NOT_FOUND``, ``UNAVAILABLE``, ``EXPIRED_WINDOW``, ``RATE_LIMITED``...). Client
order ids are recorded as sent, i.e. in the venue's form (Binance's derived ids);
the checks map them back to ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "host", "content-length"})


@dataclass(frozen=True)
class Exchange:
    """One request a worker sent to the venue and what came back."""

    started: float
    """``time.monotonic()`` when the proxy received the request."""
    finished: float
    method: str
    path: str
    client_order_id: str | None
    status: int
    error: str | None
    """The ``error`` code of a non-2xx body (``INSUFFICIENT_FUNDS``, ``UNAVAILABLE``...)."""
    kind: str | None = None
    """``place``, ``get``, ``cancel``, ``list`` or ``other`` as a dialect classified the
    request; None for the native API, whose paths say it (``endpoint``)."""

    @property
    def endpoint(self) -> str:
        if self.kind is not None:
            return self.kind
        if self.path.split("?", 1)[0] == "/orders":
            return "place" if self.method == "POST" else "list"
        return "cancel" if self.path.split("?", 1)[0].endswith("/cancel") else "get"


BUSINESS_REJECTIONS = frozenset({"INSUFFICIENT_FUNDS", "UNKNOWN_SYMBOL", "INVALID_ORDER"})


class Dialect:
    """The paper venue's native API: ``POST /orders``, ``GET /orders/{id}``, ``.../cancel``."""

    name = "paper"

    def kind(self, method: str, path: str) -> str | None:
        return None

    def client_order_id(self, method: str, path: str, body: bytes) -> str | None:
        return _client_order_id(method, path, body)

    def error(self, method: str, path: str, status: int, body: bytes) -> str | None:
        return _error_code(status, body)

    def learn(self, method: str, path: str, status: int, body: bytes) -> None:
        """Remember what an answer tells about orders (Alpaca: order id -> client id)."""


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


class AlpacaDialect(Dialect):
    """Alpaca's ``/v2``: ``POST /v2/orders``, ``GET /v2/orders:by_client_order_id``,
    ``GET``/``DELETE /v2/orders/{order_id}`` (Alpaca's own id, mapped back to the client
    order id its order carried in an earlier answer)."""

    name = "alpaca"

    def __init__(self) -> None:
        self._client_ids: dict[str, str] = {}

    def kind(self, method: str, path: str) -> str | None:
        bare = path.split("?", 1)[0]
        if bare == "/v2/orders":
            return "place" if method == "POST" else "list"
        if bare == "/v2/orders:by_client_order_id":
            return "get"
        if bare.startswith("/v2/orders/"):
            return "cancel" if method == "DELETE" else "get"
        return "other"

    def client_order_id(self, method: str, path: str, body: bytes) -> str | None:
        bare, _, query = path.partition("?")
        if method == "POST" and bare == "/v2/orders":
            value = _json(body)
            found = value.get("client_order_id") if isinstance(value, dict) else None
            return found if isinstance(found, str) else None
        if bare == "/v2/orders:by_client_order_id":
            return dict(parse_qsl(query)).get("client_order_id")
        if bare.startswith("/v2/orders/"):
            return self._client_ids.get(bare[len("/v2/orders/") :])
        return None

    def error(self, method: str, path: str, status: int, body: bytes) -> str | None:
        if status < 400:
            return None
        parsed = _json(body)
        if not isinstance(parsed, dict):
            return f"HTTP_{status}"
        if isinstance(parsed.get("error"), str):
            return str(parsed["error"])  # the proxy's own 502
        message = str(parsed.get("message", ""))
        code = parsed.get("code")
        if status == 429:
            return "RATE_LIMITED"
        if status >= 500:
            return "UNAVAILABLE"
        if status == 404:
            return "NOT_FOUND"
        if status == 401:
            return "UNAUTHORIZED"
        if self.kind(method, path) == "place" and status in (403, 422):
            if "client_order_id must be unique" in message.lower():
                return "DUPLICATE_ID"
            # What the worker's adapter makes of it.
            from execbatch.venue.adapters.alpaca import classify_refusal

            rejection = classify_refusal(status, code if isinstance(code, int) else None, message)
            return rejection.error if rejection is not None else "UNAUTHORIZED"
        return f"HTTP_{status}"

    def learn(self, method: str, path: str, status: int, body: bytes) -> None:
        if not 200 <= status < 300 or not path.startswith("/v2/orders"):
            return
        parsed = _json(body)
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(item, dict):
                order_id, client_id = item.get("id"), item.get("client_order_id")
                if isinstance(order_id, str) and isinstance(client_id, str):
                    self._client_ids[order_id] = client_id


class BinanceDialect(Dialect):
    """Binance spot's ``/api/v3/order`` (POST place, GET query, DELETE cancel), the client
    order id in ``newClientOrderId`` (placement) or ``origClientOrderId``; signed
    parameters in the query string or the form body."""

    name = "binance"

    def kind(self, method: str, path: str) -> str | None:
        bare = path.split("?", 1)[0]
        if bare == "/api/v3/order":
            return {"POST": "place", "GET": "get", "DELETE": "cancel"}.get(method, "other")
        if bare == "/api/v3/openOrders":
            return "list"
        return "other"

    def client_order_id(self, method: str, path: str, body: bytes) -> str | None:
        bare, _, query = path.partition("?")
        if bare != "/api/v3/order":
            return None
        params = dict(parse_qsl(body.decode("utf-8", errors="replace")))
        params.update(parse_qsl(query))  # the query string wins, as at Binance
        name = "newClientOrderId" if method == "POST" else "origClientOrderId"
        return params.get(name)

    def error(self, method: str, path: str, status: int, body: bytes) -> str | None:
        if status < 400:
            return None
        parsed = _json(body)
        if not isinstance(parsed, dict):
            return f"HTTP_{status}"
        if isinstance(parsed.get("error"), str):
            return str(parsed["error"])  # the proxy's own 502
        code = parsed.get("code")
        message = str(parsed.get("msg", ""))
        if code in (-1000, -1001, -1006, -1007, -1008) or status >= 500:
            return "UNAVAILABLE"
        if code == -1003 or status in (418, 429):
            return "RATE_LIMITED"
        if code == -1021:
            return "EXPIRED_WINDOW"
        if code in (-2011, -2013):
            return "NOT_FOUND"
        if code in (-2014, -2015, -1022):
            return "UNAUTHORIZED"
        if code == -2010 and "Duplicate order sent" in message:
            return "DUPLICATE_ID"
        if code == -2010 and "insufficient balance" in message:
            return "INSUFFICIENT_FUNDS"
        if code == -1121:
            return "UNKNOWN_SYMBOL"
        if code in (-2010, -1013):
            return "INVALID_ORDER"
        return f"BINANCE_{code}"


DIALECTS: dict[str, type[Dialect]] = {
    "paper": Dialect,
    "alpaca": AlpacaDialect,
    "binance": BinanceDialect,
}


def _client_order_id(method: str, path: str, body: bytes) -> str | None:
    bare = path.split("?", 1)[0]
    if method == "POST" and bare == "/orders":
        try:
            value = json.loads(body).get("client_order_id")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None
    if bare.startswith("/orders/"):
        return bare[len("/orders/") :].removesuffix("/cancel")
    return None


def _error_code(status: int, body: bytes) -> str | None:
    if status < 400:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return f"HTTP_{status}"
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return str(parsed["error"])
    return f"HTTP_{status}"


class RecordingProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream``, recording every exchange."""

    def __init__(self, upstream: str, dialect: Dialect | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.dialect = dialect or Dialect()
        self.exchanges: list[Exchange] = []
        self._server: asyncio.Server | None = None
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(120.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=200),
        )
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "proxy not started"
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()
        await self._client.aclose()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the worker went away (killed, timed out): nothing to answer
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", ""):
            raise ConnectionError("chunked request bodies are not supported by the chaos proxy")
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        started = time.monotonic()
        status, reply_headers, content = await self._forward(method, path, headers, body)
        dialect = self.dialect
        client_order_id = dialect.client_order_id(method, path, body)
        dialect.learn(method, path, status, content)
        self.exchanges.append(
            Exchange(
                started=started,
                finished=time.monotonic(),
                method=method,
                path=path,
                client_order_id=client_order_id,
                status=status,
                error=dialect.error(method, path, status, content),
                kind=dialect.kind(method, path),
            )
        )
        keep_alive = headers.get("connection", "").lower() != "close"
        out = [f"HTTP/1.1 {status} {httpx.codes.get_reason_phrase(status) or 'Status'}"]
        out += [f"{name}: {value}" for name, value in reply_headers]
        out += [
            f"content-length: {len(content)}",
            f"connection: {'keep-alive' if keep_alive else 'close'}",
        ]
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + content)
        await writer.drain()
        return keep_alive

    async def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        forwarded = {k: v for k, v in headers.items() if k not in _HOP_BY_HOP}
        try:
            response = await self._client.request(
                method, f"{self.upstream}{path}", headers=forwarded, content=body or None
            )
        except httpx.TransportError as exc:
            message = json.dumps(
                {"error": "UPSTREAM_DOWN", "message": f"venue unreachable: {type(exc).__name__}"}
            ).encode()
            return 502, [("content-type", "application/json")], message
        reply = [(k, v) for k, v in response.headers.items() if k.lower() not in _HOP_BY_HOP]
        return response.status_code, reply, response.content
