"""Which accounts an adapter trades (``ExchangeAdapter.account_refusal``): the paper
venue any account it holds, Alpaca and ccxt exactly the one their keys trade. The
workflow refuses a batch whole with this line (tests/cli/test_accounts.py runs it)."""

from __future__ import annotations

from execbatch.venue.adapters.alpaca import AlpacaAdapter
from execbatch.venue.adapters.ccxt_adapter import CcxtAdapter
from execbatch.venue.adapters.factory import create_adapter
from execbatch.venue.adapters.paper import PaperVenueAdapter

NOWHERE = "http://127.0.0.1:9"


async def test_the_paper_adapter_trades_any_account() -> None:
    async with PaperVenueAdapter(NOWHERE, account="desk1") as adapter:
        assert adapter.account_refusal("desk1") is None
        assert adapter.account_refusal("desk2") is None


async def test_alpaca_keys_trade_their_configured_account_only() -> None:
    async with AlpacaAdapter("key", "secret", account="desk1", base_url=NOWHERE) as adapter:
        assert adapter.account_refusal("desk1") is None
        assert adapter.account_refusal("default") == (
            "the batch names account 'default', but the Alpaca keys in use trade the account"
            " configured as 'desk1' (EXECBATCH_VENUE_ACCOUNT)"
        )


async def test_a_ccxt_key_trades_its_configured_account_only() -> None:
    adapter = create_adapter(
        "ccxt:binance",
        account="desk1",
        paper_url=NOWHERE,
        environ={
            "EXECBATCH_CCXT_API_KEY": "k",
            "EXECBATCH_CCXT_SECRET": "s",
            "EXECBATCH_CCXT_API_URL": NOWHERE,
        },
    )
    try:
        assert adapter.account_refusal("desk1") is None
        assert adapter.account_refusal("desk2") == (
            "the batch names account 'desk2', but the binance API key in use trades the"
            " account configured as 'desk1' (EXECBATCH_VENUE_ACCOUNT)"
        )
    finally:
        await adapter.aclose()


async def test_a_ccxt_adapter_without_an_account_name_trades_any() -> None:
    adapter = CcxtAdapter("binance", api_urls=NOWHERE, environ={})
    try:
        assert adapter.account_refusal("anything") is None
    finally:
        await adapter.aclose()
