"""What the venue's log lines may say about an order: everything, or ids and statuses only.

The paper venue is a separate process with its own log. A deployment that runs
the payload codec keeps order data (symbols, quantities, prices) out of
Temporal's history and out of the worker's logs, metrics and spans; the venue's
log is written on the same machines and shipped to the same log store, so it
must not print that data either. With ``redact_order_data`` on (``--redact-order-data``,
``EXECBATCH_VENUE_REDACT_ORDER_DATA=true``, or codec keys in the venue's
environment) every log line of ours keeps the client and venue order ids, the
account, side, type, status, error code and timings, and prints ``redacted`` in
place of a symbol, a quantity, a price, a cash amount or a free-text message
(rejection messages quote symbols and amounts). Request paths lose their query
string (Binance's signed requests carry the whole order there) and the symbol
segment of Alpaca's ``/v2/positions/<symbol>`` and ``/v2/assets/<symbol>``.

The venue itself still sees and stores everything: it is the exchange. Only
what it writes to its log changes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel

from execbatch.venue.paper.service.schema import show

ENV_REDACT = "EXECBATCH_VENUE_REDACT_ORDER_DATA"
REDACTED = "redacted"

_SYMBOL_SEGMENTS = ("/v2/positions/", "/v2/assets/", "/admin/alpaca/assets/")
"""Paths whose last segment is a symbol (Alpaca's dialect and its admin)."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def redact_order_data_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks the venue to keep order data out of its log.

    ``EXECBATCH_VENUE_REDACT_ORDER_DATA`` decides when set (``true``/``false``);
    unset, the venue redacts when the payload codec is configured in its
    environment (``EXECBATCH_CODEC_KEYS`` or ``EXECBATCH_CODEC_KEY_FILE``), so a
    venue started in the deployment's environment follows the deployment's
    choice without holding an opinion of its own. The keys themselves are not
    read: the venue needs no codec.
    """
    env = os.environ if environ is None else environ
    raw = env.get(ENV_REDACT)
    if raw is not None:
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ValueError(f"{ENV_REDACT} must be true or false, not {raw!r}")
    return bool(env.get("EXECBATCH_CODEC_KEYS", "").strip()) or bool(
        env.get("EXECBATCH_CODEC_KEY_FILE", "").strip()
    )


@dataclass(frozen=True)
class OrderDataLog:
    """Formats order data for a log line, redacted or not (see the module docstring)."""

    redact: bool = False

    def symbol(self, symbol: str | None) -> str:
        if symbol is None:
            return "-"
        return REDACTED if self.redact else symbol

    def amount(self, value: Decimal | None) -> str:
        """A quantity, price or cash amount."""
        if value is None:
            return "-"
        return REDACTED if self.redact else show(value)

    def text(self, message: str | None) -> str:
        """A free-text message (a rejection's reason quotes symbols and amounts)."""
        if message is None:
            return "-"
        return REDACTED if self.redact else message

    def model(self, value: BaseModel) -> str:
        """An admin request's settings (a fault rule, an instrument) as JSON."""
        return REDACTED if self.redact else value.model_dump_json(exclude_none=True)

    def path(self, path: str) -> str:
        """A request path (with or without a query string) for a log line."""
        if not self.redact:
            return path
        bare = path.partition("?")[0]
        for prefix in _SYMBOL_SEGMENTS:
            if bare.startswith(prefix) and len(bare) > len(prefix):
                return prefix + "{symbol}"
        return bare


class AccessLogRedaction(logging.Filter):
    """Redacts the path of uvicorn's access log lines (``uvicorn.access``).

    uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with the client address, method,
    full path (query string included), HTTP version and status as the record's
    args; the path is replaced, the rest kept, so the line still says who asked
    for what and how it went.
    """

    def __init__(self, view: OrderDataLog) -> None:
        super().__init__()
        self._view = view

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], self._view.path(args[2]), args[3], args[4])
        return True
