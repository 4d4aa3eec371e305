"""One adapter for the venue ``EXECBATCH_VENUE`` names.

* ``paper`` (the default): our paper venue at ``paper_url``
  (``PaperVenueAdapter``).
* ``alpaca``: Alpaca's trading API through alpaca-py (``AlpacaAdapter``),
  keys from ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY``, endpoint from
  ``EXECBATCH_ALPACA_URL`` (default: Alpaca's paper endpoint).
* ``ccxt:<exchange>`` (``ccxt:binance`` first): the exchange through ccxt's
  async API (``CcxtAdapter``), keys from ``EXECBATCH_CCXT_API_KEY`` /
  ``EXECBATCH_CCXT_SECRET``, ``EXECBATCH_VENUE_SANDBOX=1`` for its testnet,
  ``EXECBATCH_CCXT_API_URL`` to point it elsewhere (our paper venue's dialect).

An adapter module is imported only when its venue is chosen, so a paper
worker does not load alpaca-py (nor pandas behind it).
"""

from __future__ import annotations

from collections.abc import Mapping

from execbatch.venue.port.adapter import ExchangeAdapter

ENV_VENUE = "EXECBATCH_VENUE"
DEFAULT_VENUE = "paper"
VENUES = ("paper", "alpaca", "ccxt:<exchange>")
"""The values ``EXECBATCH_VENUE`` takes."""


def create_adapter(
    venue: str,
    *,
    account: str,
    paper_url: str,
    environ: Mapping[str, str] | None = None,
) -> ExchangeAdapter:
    """The adapter for ``venue`` (a value of ``EXECBATCH_VENUE``).

    ``account`` is the account the executor trades (for Alpaca: the name of
    the one account its keys trade); ``paper_url`` is used by ``paper`` only;
    ``environ`` (default ``os.environ``) is where venue keys are read.
    Raises ``ValueError`` naming the variable and its valid values for an
    unknown venue, and ``KeyConfigError`` (a ``ValueError``) for missing keys.
    """
    name = venue.strip()
    if name == "paper":
        from execbatch.venue.adapters.paper import PaperVenueAdapter

        return PaperVenueAdapter(paper_url, account=account)
    if name == "alpaca":
        from execbatch.venue.adapters.alpaca import AlpacaAdapter

        return AlpacaAdapter.from_env(account=account, environ=environ)
    if name.startswith("ccxt:"):
        from execbatch.venue.adapters.ccxt_adapter import CcxtAdapter, supported_exchanges

        exchange = name.removeprefix("ccxt:")
        if exchange not in supported_exchanges():
            raise ValueError(
                f"{ENV_VENUE}={venue!r}: execbatch has no capability entry for {exchange!r}"
                f" yet (enabled: {', '.join(supported_exchanges())}; docs/VENUES.md says"
                " how to add one)"
            )
        return CcxtAdapter.from_env(exchange, account=account, environ=environ)
    raise ValueError(f"{ENV_VENUE}={venue!r} names no venue; valid values: {', '.join(VENUES)}")


__all__ = ["DEFAULT_VENUE", "ENV_VENUE", "VENUES", "create_adapter"]
