"""A recording HTTP/1.1 proxy between the workers and the venue.

The venue counts requests per endpoint, not per client order id, and a venue
restart resets its counters. To prove that a business rejection is never
placed again and that a transient fault is, the chaos run needs every order
request the workers sent, in order, with the answer each got. This proxy
records exactly that (time, method, path, client order id, HTTP status,
error code, how long the venue took) and forwards the bytes unchanged.

It speaks just enough HTTP/1.1 for httpx's requests (``Content-Length``
framed, keep-alive). While the venue is down (restarted mid-run) it answers
502, which the adapter treats like any 5xx: transient, retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass

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

    @property
    def endpoint(self) -> str:
        if self.path.split("?", 1)[0] == "/orders":
            return "place" if self.method == "POST" else "list"
        return "cancel" if self.path.split("?", 1)[0].endswith("/cancel") else "get"


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

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
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
        self.exchanges.append(
            Exchange(
                started=started,
                finished=time.monotonic(),
                method=method,
                path=path,
                client_order_id=_client_order_id(method, path, body),
                status=status,
                error=_error_code(status, content),
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
