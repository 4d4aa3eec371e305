"""Which venue a chaos run trades, and what that venue needs set up.

``paper`` is the paper venue's native API through ``PaperVenueAdapter``, as
always. ``alpaca`` and ``binance`` run the workers on the real SDK adapters
(``AlpacaAdapter`` on alpaca-py, ``CcxtAdapter`` on ccxt), configured only
through the environment a deployment would set (``EXECBATCH_VENUE`` and the
venue's variables), against the same paper venue process answering in that
venue's dialect (``/v2`` or ``/api/v3``) behind the recording proxy:

* **alpaca**: the key id names the paper account the workers trade
  (``ALPACA_ACCOUNT``, created and funded by the run); our name for it in the
  batches stays ``default`` (``EXECBATCH_VENUE_ACCOUNT``). Alpaca's 200
  requests a minute per key are lifted (a run sends several times that);
  a fractional sell needs a position, so the account first buys a long one of
  every symbol.
* **binance**: one API key (``EXECBATCH_PAPER_BINANCE_KEYS``, read by the venue
  at every start) names ``BINANCE_ACCOUNT``; BTC/USDT and ETH/USDT are priced
  by the run; spot sells need holdings, bought first. The venue's default
  request-weight limit (6000 a minute per IP) stays: both workers share it.

Seed orders (the holdings) go through the native API under ``SEED_PREFIX`` ids
and are left out of the checks. Our client order ids become the venue's own
(``venue_id``): Binance's derived form when ours does not fit its rule.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from execbatch.core.enums import OrderSide, OrderType
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.port.client_ids import venue_client_order_id
from execbatch.venue.port.orders import OrderRequest
from tests.reliability.chaos.proxy import AlpacaDialect, BinanceDialect, Dialect
from tests.reliability.chaos.scenario import VENUES, start_prices

SEED_PREFIX = "chaos-seed-"
ALPACA_ACCOUNT = "alpaca-chaos"
"""The Alpaca key id, which names the paper account it trades."""
ALPACA_SECRET = "chaos-alpaca-secret"
BINANCE_ACCOUNT = "binance-chaos"
BINANCE_API_KEY = "chaosBinanceKey0001"
BINANCE_SECRET = "chaosBinanceSecret0001"
ADAPTER_TIMEOUT_SECONDS = "5"
"""The SDK adapters' HTTP timeout, as the paper adapter's (5 s): under the 6 s
venue-call activity timeout, and what the checks take as "the worker gave up"."""


@dataclass(frozen=True)
class ChaosVenue:
    """One venue of a chaos run: how workers reach it, what it needs first."""

    name: str
    account: str
    """The venue's account the workers trade (the paper venue's default account
    for ``paper``)."""
    stores_refusals: bool
    """A refused placement leaves an order (REJECTED) in the venue's store: the
    paper venue and its Alpaca dialect keep it; Binance stores nothing."""
    refusals_visible: bool = True
    """The venue's API shows a refused order afterwards: only the native API
    (Alpaca's dialect hides the stored refusal, as Alpaca creates no order)."""
    holdings: Mapping[str, Decimal] = field(default_factory=dict)
    """Long positions bought before the run (sells need them)."""
    settled_ids_final: bool = True
    """An id whose cancel the venue answered can never place again: the paper
    venue fences it, Alpaca's client order id is unique per account for ever
    (docs/VENUES.md); Binance's ``newClientOrderId`` is unique among *open* orders
    only, so a closed order's id places again."""

    def venue_id(self, client_order_id: str) -> str:
        """The client order id the venue stores for ours: what the worker's adapter sends
        (its own capability entry's length and pattern)."""
        if self.name == "paper":
            return client_order_id
        length, pattern = _id_rule(self.name)
        return venue_client_order_id(client_order_id, max_length=length, pattern=pattern)

    def dialect(self) -> Dialect:
        if self.name == "alpaca":
            return AlpacaDialect()
        if self.name == "binance":
            return BinanceDialect()
        return Dialect()

    def venue_env(self) -> dict[str, str]:
        if self.name == "binance":
            return {
                "EXECBATCH_PAPER_BINANCE_KEYS": f"{BINANCE_API_KEY}:{BINANCE_SECRET}:{self.account}"
            }
        return {}

    def worker_env(self, url: str) -> dict[str, str]:
        """``url``: where the workers reach the venue (the proxy)."""
        if self.name == "alpaca":
            return {
                "EXECBATCH_VENUE": "alpaca",
                "APCA_API_KEY_ID": self.account,
                "APCA_API_SECRET_KEY": ALPACA_SECRET,
                "EXECBATCH_ALPACA_URL": url,
                "EXECBATCH_ALPACA_TIMEOUT": ADAPTER_TIMEOUT_SECONDS,
                "EXECBATCH_VENUE_ACCOUNT": "default",
            }
        if self.name == "binance":
            return {
                "EXECBATCH_VENUE": "ccxt:binance",
                "EXECBATCH_CCXT_API_KEY": BINANCE_API_KEY,
                "EXECBATCH_CCXT_SECRET": BINANCE_SECRET,
                "EXECBATCH_CCXT_API_URL": url,
                "EXECBATCH_CCXT_TIMEOUT": ADAPTER_TIMEOUT_SECONDS,
                "EXECBATCH_VENUE_ACCOUNT": "default",
            }
        return {"EXECBATCH_VENUE_URL": url}

    async def prepare(self, admin: PaperVenueAdmin, base_url: str, cash: str) -> None:
        """Account, prices and holdings, before the first batch."""
        if self.name == "paper":
            return
        await admin.fund_account(self.account, cash)
        if self.name == "binance":
            await admin.set_prices(start_prices("binance"))
        await self.install_controls(admin)
        async with PaperVenueAdapter(base_url, account=self.account) as native:
            for symbol, quantity in self.holdings.items():
                await native.place_order(
                    OrderRequest(
                        client_order_id=SEED_PREFIX + symbol.replace("/", "-"),
                        account=self.account,
                        symbol=symbol,
                        side=OrderSide.BUY,
                        order_type=OrderType.MARKET,
                        quantity=quantity,
                    )
                )

    async def install_controls(self, admin: PaperVenueAdmin) -> None:
        """The dialect's in-memory test controls (again after every venue restart)."""
        if self.name == "alpaca":
            await _admin_put(admin, "/admin/alpaca/rate-limit", {"requests_per_minute": None})


async def _admin_put(admin: PaperVenueAdmin, path: str, body: Mapping[str, Any]) -> None:
    await admin._request("PUT", path, body=body)  # signed like every admin call


def chaos_venue(name: str) -> ChaosVenue:
    if name not in VENUES:
        raise ValueError(f"venue {name!r}: one of {', '.join(VENUES)}")
    if name == "alpaca":
        equities = start_prices("alpaca")
        return ChaosVenue(
            name="alpaca",
            account=ALPACA_ACCOUNT,
            stores_refusals=True,
            refusals_visible=False,
            holdings={symbol: Decimal(100_000) for symbol in equities},
        )
    if name == "binance":
        return ChaosVenue(
            name="binance",
            account=BINANCE_ACCOUNT,
            stores_refusals=False,
            refusals_visible=False,
            settled_ids_final=False,
            holdings={"BTC/USDT": Decimal(1000), "ETH/USDT": Decimal(20_000)},
        )
    return ChaosVenue(name="paper", account="default", stores_refusals=True)


@functools.cache
def _id_rule(name: str) -> tuple[int, str]:
    """(length, pattern) of client order ids, from the adapter's capability entry
    (imported only for that venue: alpaca-py and ccxt are heavy)."""
    if name == "alpaca":
        from execbatch.venue.adapters.alpaca import ALPACA_CAPABILITIES as capabilities
    else:
        from execbatch.venue.adapters.ccxt_adapter import CCXT_CAPABILITIES

        capabilities = CCXT_CAPABILITIES["binance"]
    return capabilities.max_client_order_id_length, capabilities.client_order_id_pattern


def id_mapper(venue: ChaosVenue, client_order_ids: list[str]) -> Callable[[str], str]:
    """Venue id -> ours, for the ids the run can have sent (unknown ids unchanged)."""
    back = {venue.venue_id(cid): cid for cid in client_order_ids}
    return lambda venue_id: back.get(venue_id, venue_id)
