"""``python -m bench.http_clients``: the venue HTTP client candidates side by side.

The same ``PaperVenueAdapter.place_order`` (its error mapping, signing and
trace header unchanged) over each candidate transport, against one paper venue
process, then a raw ``aiohttp`` session posting the same JSON (no adapter: the
floor of that library). For each: client CPU per request (``time.process_time``
of this process over the requests) and latency p50/p99 with 2 requests in
flight (a 2-leg batch) and with 64 (a loaded worker). The venue's own cost is
the same for every candidate; only this process's CPU is attributed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from functools import partial

import aiohttp
import httpx

from bench.cells import percentile
from execbatch.core.enums import OrderSide, OrderType
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from execbatch.venue.port.orders import OrderRequest

ACCOUNT = "http-bench"


def _order(tag: str, i: int) -> OrderRequest:
    return OrderRequest(
        client_order_id=f"{tag}-{i}",
        account=ACCOUNT,
        symbol="AAPL",
        side=OrderSide.BUY if i % 2 else OrderSide.SELL,
        order_type=OrderType.MARKET,
        quantity=Decimal(1),
    )


async def _measure(
    send: Callable[[int], Awaitable[object]], count: int, in_flight: int
) -> tuple[float, float, float]:
    """(CPU ms per request, p50 ms, p99 ms) of ``count`` requests, ``in_flight`` at a time."""
    latencies: list[float] = []
    queue = iter(range(count))

    async def lane() -> None:
        for i in queue:
            start = time.perf_counter()
            await send(i)
            latencies.append(time.perf_counter() - start)

    cpu = time.process_time()
    await asyncio.gather(*(lane() for _ in range(in_flight)))
    cpu_ms = (time.process_time() - cpu) * 1000 / count
    ordered = sorted(latencies)
    return cpu_ms, percentile(ordered, 50) * 1000, percentile(ordered, 99) * 1000


def _place(adapter: PaperVenueAdapter, tag: str, i: int) -> Awaitable[object]:
    return adapter.place_order(_order(tag, i))


def _candidates(base_url: str) -> dict[str, Callable[[], httpx.AsyncClient | None]]:
    from httpx_aiohttp import HttpxAiohttpClient

    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    return {
        "httpx (as shipped)": lambda: None,
        "httpx over aiohttp transport": lambda: HttpxAiohttpClient(
            base_url=base_url, timeout=httpx.Timeout(10.0), limits=limits
        ),
    }


async def main_async(count: int, rounds: int) -> None:
    venue = VenueProcess(extra_args=["--sync", "NORMAL", "--log-level", "WARNING"])
    await venue.astart()
    rows: list[tuple[str, int, float, float, float]] = []
    try:
        async with PaperVenueAdmin(venue.base_url) as admin:
            await admin.fund_account(ACCOUNT, "1000000000000")
        for _ in range(rounds):  # interleaved rounds: drift hits every candidate alike
            for name, make in _candidates(venue.base_url).items():
                client = make()
                adapter = PaperVenueAdapter(venue.base_url, account=ACCOUNT, client=client)
                tag = uuid.uuid4().hex[:8]
                try:
                    for i in range(50):  # warm the pool
                        await adapter.place_order(_order(tag, -1 - i))
                    for in_flight in (2, 64):
                        sent = f"{tag}{in_flight}"
                        figures = await _measure(partial(_place, adapter, sent), count, in_flight)
                        rows.append((name, in_flight, *figures))
                finally:
                    await adapter.aclose()
                    if client is not None:
                        await client.aclose()
            connector = aiohttp.TCPConnector(limit=100)
            async with aiohttp.ClientSession(venue.base_url, connector=connector) as session:
                tag = uuid.uuid4().hex[:8]

                async def post(i: int, tag: str = tag) -> object:
                    order = _order(tag, i)
                    body = json.dumps(
                        {
                            "client_order_id": order.client_order_id,
                            "account": ACCOUNT,
                            "symbol": "AAPL",
                            "side": order.side.value,
                            "order_type": "MARKET",
                            "quantity": "1",
                        }
                    )
                    async with session.post(
                        "/orders", data=body, headers={"content-type": "application/json"}
                    ) as response:
                        return await response.read()

                for i in range(50):
                    await post(-1 - i, tag + "w")
                for in_flight in (2, 64):
                    figures = await _measure(
                        lambda i, t=f"{tag}{in_flight}": post(i, t),  # type: ignore[misc]
                        count,
                        in_flight,
                    )
                    rows.append(("raw aiohttp (no adapter)", in_flight, *figures))
    finally:
        await venue.aclose()
    print(f"{'client':32s} {'in flight':>9s} {'cpu ms/req':>10s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for name, in_flight, cpu_ms, p50, p99 in rows:
        print(f"{name:32s} {in_flight:9d} {cpu_ms:10.3f} {p50:8.2f} {p99:8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_clients", description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="requests per measurement")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.count, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
