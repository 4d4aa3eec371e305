"""Which venue a dev stack's workers trade, and what a second shell sets to reach it.

One vocabulary everywhere (``EXECBATCH_VENUE``, ``execbatch dev --venue``,
``execbatch demo --venue``): ``paper``, ``alpaca``, ``ccxt:binance``
(``binance`` is accepted as another name for ``ccxt:binance``).

A ``StackVenue`` is either

* **local**: the paper venue process, serving its native API (``paper``) or
  its dialect of the venue (``alpaca``: ``/v2``, ``ccxt:binance``:
  ``/api/v3``), with keys of our own that trade the paper account named
  ``account``; the real SDK (alpaca-py, ccxt) talks to it over loopback; or
* **remote**: the venue's own endpoint with the keys in the environment
  (Alpaca's paper endpoint, Binance's spot testnet with
  ``EXECBATCH_VENUE_SANDBOX=1``, or, past each adapter's live guard, the live
  ones). No paper venue process runs then.

``worker_env`` is what the workers run with; ``client_env`` what a second
shell exports so that ``positions``, ``orders`` and ``venue-check`` build the
same adapter the workers build (``create_adapter``). Secrets of a remote venue
are never printed: the second shell takes them from its own environment.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from execbatch.venue.adapters.factory import create_adapter

PAPER = "paper"
ALPACA = "alpaca"
BINANCE = "ccxt:binance"
VENUE_NAMES = (PAPER, ALPACA, BINANCE)
"""The venues a stack (and the demo) trades, by their ``EXECBATCH_VENUE`` names."""
VENUE_ALIASES = {"binance": BINANCE}

LOCAL_CASH = Decimal("1000000")
"""Cash of the paper account a local dialect's keys trade, when the stack creates it."""
LOCAL_PRICES: Mapping[str, Mapping[str, Decimal]] = {
    BINANCE: {"BTC/USDT": Decimal("60000.00"), "ETH/USDT": Decimal("3000.00")},
}
"""Reference prices the venue starts with: a Binance symbol trades only once priced."""
LOCAL_ALPACA_SECRET = "local-alpaca-secret"
"""Any non-empty secret passes an open paper venue (one without keys)."""
LOCAL_BINANCE_KEY = "localBinanceKey0001"
LOCAL_BINANCE_SECRET = "localBinanceSecret0001"
SECRET_VARIABLES = ("APCA_API_SECRET_KEY", "EXECBATCH_CCXT_SECRET")
"""Printed by name only, never by value."""


def canonical_venue(name: str, option: str = "--venue") -> str:
    """``name`` as ``EXECBATCH_VENUE`` spells it; ValueError naming ``option`` if unknown."""
    venue = name.strip()
    venue = VENUE_ALIASES.get(venue, venue)
    if venue not in VENUE_NAMES:
        raise ValueError(f"{option} {name!r}: one of {', '.join(VENUE_NAMES)}")
    return venue


@dataclass(frozen=True)
class StackVenue:
    name: str
    """``paper``, ``alpaca`` or ``ccxt:binance``."""
    account: str = "default"
    """``EXECBATCH_VENUE_ACCOUNT``: the account the workers trade (and batches name)."""
    local: bool = True
    """Trade the paper venue (its dialect of ``name``) rather than the venue's endpoint."""
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    """Where a remote venue's keys and endpoint settings are read."""

    @property
    def runs_paper_venue(self) -> bool:
        """Whether the stack starts the paper venue process: only when it is traded."""
        return self.local or self.name == PAPER

    @property
    def paper_account(self) -> str:
        """The paper account the local keys trade (the stack creates it)."""
        return self.account

    def venue_env(self) -> dict[str, str]:
        """The paper venue process's extra environment: the Binance dialect's keys."""
        if self.local and self.name == BINANCE:
            key = f"{LOCAL_BINANCE_KEY}:{self.local_binance_secret}:{self.paper_account}"
            return {"EXECBATCH_PAPER_BINANCE_KEYS": key}
        return {}

    def local_prices(self) -> Mapping[str, Decimal]:
        """Reference prices the local venue needs beyond its defaults."""
        return LOCAL_PRICES.get(self.name, {}) if self.local else {}

    def venue_args(self) -> tuple[str, ...]:
        """Prices at start-up: a Binance symbol trades (and ccxt caches it as trading)
        only once it has a price."""
        prices = self.local_prices()
        return tuple(arg for s, p in prices.items() for arg in ("--price", f"{s}={p}"))

    @property
    def local_alpaca_secret(self) -> str:
        """One of the venue's keys when it has keys (they come from our environment)."""
        return self.environ.get("EXECBATCH_VENUE_API_KEY", "").split(",")[0].strip() or (
            LOCAL_ALPACA_SECRET
        )

    @property
    def local_binance_secret(self) -> str:
        return LOCAL_BINANCE_SECRET

    def client_env(self, venue_url: str) -> dict[str, str]:
        """The venue settings a client (and a worker) runs with, secrets of a remote
        venue left out (they stay in the environment they came from)."""
        env = {"EXECBATCH_VENUE": self.name, "EXECBATCH_VENUE_ACCOUNT": self.account}
        if self.name == PAPER:
            env["EXECBATCH_VENUE_URL"] = venue_url
        elif self.local and self.name == ALPACA:
            env.update(
                APCA_API_KEY_ID=self.paper_account,
                APCA_API_SECRET_KEY=self.local_alpaca_secret,
                EXECBATCH_ALPACA_URL=venue_url,
            )
        elif self.local and self.name == BINANCE:
            env.update(
                EXECBATCH_CCXT_API_KEY=LOCAL_BINANCE_KEY,
                EXECBATCH_CCXT_SECRET=self.local_binance_secret,
                EXECBATCH_CCXT_API_URL=venue_url,
                EXECBATCH_VENUE_SANDBOX="",  # the testnet and a URL exclude each other
            )
        else:
            for name in self.remote_variables():
                if name in self.environ and name not in SECRET_VARIABLES:
                    env[name] = self.environ[name]
        return env

    def worker_env(self, venue_url: str) -> dict[str, str]:
        """What the workers run with (``DevStack(worker_venue_env=...)``), on top of the
        environment they inherit (a remote venue's secrets come from there)."""
        return self.client_env(venue_url)

    def remote_variables(self) -> tuple[str, ...]:
        """The environment a remote venue is configured by (docs/VENUES.md)."""
        if self.name == ALPACA:
            return (
                "APCA_API_KEY_ID",
                "APCA_API_SECRET_KEY",
                "EXECBATCH_ALPACA_URL",
                "EXECBATCH_ALPACA_ALLOW_LIVE",
                "EXECBATCH_ALPACA_TIMEOUT",
            )
        if self.name == BINANCE:
            return (
                "EXECBATCH_CCXT_API_KEY",
                "EXECBATCH_CCXT_SECRET",
                "EXECBATCH_VENUE_SANDBOX",
                "EXECBATCH_CCXT_API_URL",
                "EXECBATCH_CCXT_ALLOW_LIVE",
                "EXECBATCH_CCXT_TIMEOUT",
            )
        return ()

    def secrets_to_set(self) -> tuple[str, ...]:
        """Secret variables a second shell must set itself (a remote venue's)."""
        if self.local:
            return ()
        return tuple(n for n in self.remote_variables() if n in SECRET_VARIABLES)

    def describe(self, venue_url: str) -> VenueFacts:
        """Endpoint and kind, from the adapter the workers will build (which also
        refuses missing keys and a live endpoint not asked for: ``ValueError``)."""
        return asyncio.run(_describe(self, venue_url))


@dataclass(frozen=True)
class VenueFacts:
    endpoint: str
    kind: str
    """``simulated``, ``paper``, ``testnet``, ``LIVE (real money)`` or ``custom endpoint``."""


async def _describe(venue: StackVenue, venue_url: str) -> VenueFacts:
    env = {**venue.environ, **venue.worker_env(venue_url)}
    adapter = create_adapter(venue.name, account=venue.account, paper_url=venue_url, environ=env)
    try:
        if venue.name == PAPER:
            return VenueFacts(venue_url, "simulated (the paper venue)")
        if venue.name == ALPACA:
            from execbatch.venue.adapters.alpaca import LIVE_HOST, PAPER_URL, AlpacaAdapter

            assert isinstance(adapter, AlpacaAdapter)
            url = adapter.base_url
            if venue.local:
                kind = "simulated (the paper venue's Alpaca dialect)"
            elif url == PAPER_URL.rstrip("/"):
                kind = "paper (Alpaca's paper trading)"
            elif LIVE_HOST and LIVE_HOST in url:
                kind = "LIVE (real money)"
            else:
                kind = "custom endpoint"
            return VenueFacts(f"{url}/v2", kind)
        from execbatch.venue.adapters.ccxt_adapter import CcxtAdapter

        assert isinstance(adapter, CcxtAdapter)
        if venue.local:
            kind = "simulated (the paper venue's Binance spot dialect)"
        elif adapter.sandbox:
            kind = "testnet (Binance's spot testnet)"
        elif env.get("EXECBATCH_CCXT_API_URL", "").strip():
            kind = "custom endpoint"
        else:
            kind = "LIVE (real money)"
        return VenueFacts(adapter.endpoint, kind)
    finally:
        await adapter.aclose()


__all__ = [
    "ALPACA",
    "BINANCE",
    "LOCAL_CASH",
    "PAPER",
    "VENUE_ALIASES",
    "VENUE_NAMES",
    "StackVenue",
    "VenueFacts",
    "canonical_venue",
]
