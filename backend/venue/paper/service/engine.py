"""The venue's behaviour behind the routes: faults, store calls, counters.

Routes stay thin (parse, call, render); this module decides which HTTP answer
each outcome becomes, so the whole contract can be read in one place.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from execbatch.core.enums import VenueOrderStatus
from execbatch.venue.paper.service.config import VenueSettings
from execbatch.venue.paper.service.faults import FaultInjector, FaultTarget
from execbatch.venue.paper.service.http import VenueHTTPError
from execbatch.venue.paper.service.log_redaction import OrderDataLog
from execbatch.venue.paper.service.store import (
    Fill,
    Holdings,
    PlaceResult,
    ScopedPlaceOutcome,
    StoreRunner,
    VenueStore,
)
from execbatch.venue.paper.wire import (
    FaultEndpoint,
    FaultKind,
    FaultRule,
    FaultRuleSpec,
    Instrument,
    InstrumentListing,
    VenueStats,
)
from execbatch.venue.port.orders import Account, OrderRequest, Position, VenueOrder

log = logging.getLogger("execbatch.venue")

_PLACE_OUTCOMES = ("created", "rejected", "replayed", "conflict", "fenced", "invalid", "duplicate")
"""``duplicate``: refused by a dialect because an open order holds the client id."""


class ResponseLost(VenueHTTPError):
    """A ``fail_after_place`` fault fired: the request was carried out, its answer is lost.

    Native routes render it as any 503; a dialect can tell it from a 503 that
    did nothing (``error_503``, ``hang``) and answer in its venue's words.
    """

    def __init__(self, message: str) -> None:
        super().__init__(503, "UNAVAILABLE", message)


class VenueEngine:
    """One venue: its store, its fault rules and its request counters."""

    def __init__(self, settings: VenueSettings) -> None:
        self.settings = settings
        self.store = StoreRunner(
            settings.db_path, settings.synchronous, redact_order_data=settings.redact_order_data
        )
        self.order_data_log = OrderDataLog(redact=settings.redact_order_data)
        self.faults = FaultInjector(settings.fault_seed)
        self.started_at = datetime.now(UTC)
        self._requests: Counter[str] = Counter()
        self._place_outcomes: Counter[str] = Counter()
        self._instruments: dict[str, Instrument] = {}
        self.start_instruments: list[Instrument] = []
        """Instruments a dialect was configured with (Binance's from its environment),
        listed at start like ``--instruments``."""

    async def start(self) -> None:
        await self.store.open()
        await self.store.call(
            VenueStore.bootstrap,
            default_account=self.settings.default_account,
            initial_cash=self.settings.initial_cash,
            default_prices=self.settings.default_prices,
            price_overrides=self.settings.price_overrides,
            default_instruments=self.settings.default_instruments,
            instrument_overrides=(*self.start_instruments, *self.settings.instrument_overrides),
        )
        await self._reload_instruments()
        log.info(
            "venue started db=%s synchronous=%s fault_seed=%s",
            self.settings.db_path,
            self.settings.synchronous,
            self.settings.fault_seed,
        )

    async def stop(self) -> None:
        await self.store.close()
        log.info("venue stopped db=%s", self.settings.db_path)

    # -------------------------------------------------------------- counters

    def count_request(self, endpoint: FaultEndpoint) -> None:
        """Called by the counting middleware, before any validation."""
        self._requests[endpoint.value] += 1

    def count_invalid_placement(self) -> None:
        self._place_outcomes["invalid"] += 1

    # ---------------------------------------------------------------- orders

    async def place(self, request: OrderRequest) -> tuple[int, VenueOrder]:
        """Place idempotently; returns (HTTP status, order) or raises VenueHTTPError."""
        await self._transport_faults(
            FaultTarget(
                endpoint=FaultEndpoint.PLACE,
                client_order_id=request.client_order_id,
                symbol=request.symbol,
                side=request.side,
            )
        )
        outcome = await self.store.call(VenueStore.place, request, self.faults.order_stage)
        order = outcome.order
        rejected = order.status is VenueOrderStatus.REJECTED
        if outcome.result is PlaceResult.CREATED:
            self._place_outcomes["rejected" if rejected else "created"] += 1
        else:
            self._place_outcomes[outcome.result.value] += 1
        if outcome.response_lost:
            raise ResponseLost(
                "response lost after the order was placed (injected fault fail_after_place)"
            )
        if outcome.result is PlaceResult.CONFLICT:
            raise VenueHTTPError(
                409,
                "ORDER_CONFLICT",
                f"client_order_id {request.client_order_id!r} already exists with a different"
                f" {', '.join(outcome.conflict_fields)}",
                extra={"order": order},
            )
        if rejected:
            raise VenueHTTPError(
                422,
                order.reject_error or "INVALID_ORDER",
                order.reject_message or "rejected",
                extra={"order": order},
            )
        return (201 if outcome.result is PlaceResult.CREATED else 200), order

    async def get(self, client_order_id: str) -> VenueOrder:
        decision = await self._transport_faults(
            FaultTarget(endpoint=FaultEndpoint.GET, client_order_id=client_order_id)
        )
        order = await self.store.call(VenueStore.get, client_order_id)
        if decision is FaultKind.FAIL_AFTER_PLACE:
            raise ResponseLost("response lost (injected fault)")
        if order is None:
            raise VenueHTTPError(
                404, "ORDER_NOT_FOUND", f"no order with client_order_id {client_order_id!r}"
            )
        return order

    async def list_orders(self, account: str | None, symbol: str | None) -> list[VenueOrder]:
        return await self.store.call(VenueStore.list_orders, account, symbol)

    async def cancel(self, client_order_id: str, account: str | None) -> VenueOrder:
        decision = await self._transport_faults(
            FaultTarget(endpoint=FaultEndpoint.CANCEL, client_order_id=client_order_id)
        )
        outcome = await self.store.call(VenueStore.cancel, client_order_id, account)
        if decision is FaultKind.FAIL_AFTER_PLACE:
            raise ResponseLost("response lost after the cancel was applied (injected fault)")
        return outcome.order

    # ---------------------------------------- OPEN_ORDERS scope (for dialects)
    #
    # The same order life cycle with a weaker client id scope (Binance spot:
    # unique among open orders; no cancel fence). Fault rules apply as to the
    # native routes: latency/503/hang before anything is done (VenueHTTPError),
    # fail_after_place after it is done (ResponseLost).

    async def place_open_scope(
        self,
        request: OrderRequest,
        *,
        sells_need_holdings: bool,
        not_after: float | None = None,
    ) -> ScopedPlaceOutcome:
        """Place with the client id unique among open orders only; see VenueStore."""
        await self._transport_faults(
            FaultTarget(
                endpoint=FaultEndpoint.PLACE,
                client_order_id=request.client_order_id,
                symbol=request.symbol,
                side=request.side,
            )
        )
        outcome = await self.store.call(
            VenueStore.place_open_scope,
            request,
            self.faults.order_stage,
            sells_need_holdings=sells_need_holdings,
            not_after=not_after,
        )
        if outcome.result is PlaceResult.CREATED:
            order = outcome.order
            rejected = order is not None and order.status is VenueOrderStatus.REJECTED
            self._place_outcomes["rejected" if rejected else "created"] += 1
        else:
            self._place_outcomes[outcome.result.value] += 1
        if outcome.response_lost:
            raise ResponseLost(
                "response lost after the order was placed (injected fault fail_after_place)"
            )
        return outcome

    async def find_order(
        self,
        account: str,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder | None:
        """The latest order so named (``None`` if none), with the ``get`` fault rules."""
        return await self._named_order_call(
            FaultEndpoint.GET,
            VenueStore.find_order,
            account,
            symbol,
            client_order_id,
            venue_order_id,
            lost="response lost (injected fault)",
        )

    async def cancel_open(
        self,
        account: str,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder | None:
        """Cancel the open order so named; ``None`` if none is open (nothing recorded)."""
        return await self._named_order_call(
            FaultEndpoint.CANCEL,
            VenueStore.cancel_open,
            account,
            symbol,
            client_order_id,
            venue_order_id,
            lost="response lost after the cancel was applied (injected fault)",
        )

    async def _named_order_call(
        self,
        endpoint: FaultEndpoint,
        operation: Callable[..., VenueOrder | None],
        account: str,
        symbol: str,
        client_order_id: str | None,
        venue_order_id: str | None,
        *,
        lost: str,
    ) -> VenueOrder | None:
        """A dialect's call on one order (by client or venue order id), under the fault
        rules of ``endpoint``; a ``fail_after_place`` rule loses the answer after the work."""
        decision = await self._transport_faults(
            FaultTarget(endpoint=endpoint, client_order_id=client_order_id or "")
        )
        order = await self.store.call(
            operation,
            account,
            symbol,
            client_order_id=client_order_id,
            venue_order_id=venue_order_id,
        )
        if decision is FaultKind.FAIL_AFTER_PLACE:
            raise ResponseLost(lost)
        return order

    async def open_orders(self, account: str, symbol: str | None) -> list[VenueOrder]:
        return await self.store.call(VenueStore.open_orders, account, symbol)

    async def order_fills(self, venue_order_ids: list[str]) -> dict[str, list[Fill]]:
        return await self.store.call(VenueStore.order_fills, venue_order_ids)

    async def holdings(self, account: str) -> Holdings | None:
        return await self.store.call(VenueStore.holdings, account)

    async def _transport_faults(self, target: FaultTarget) -> FaultKind | None:
        """Apply latency/503/hang; returns a fault the caller must apply afterwards.

        ``hang`` sleeps (past any sane client timeout) and then answers 503
        without handling the request: the client cannot tell a hang from a
        lost request, and nothing must happen at the venue behind its back.
        """
        faults = self.faults.transport(target)
        if faults.latency_seconds > 0:
            await asyncio.sleep(faults.latency_seconds)
        decision = faults.decision
        if decision is None:
            return None
        log.info(
            "fault fired rule=#%s kind=%s endpoint=%s cid=%s",
            decision.rule_id,
            decision.kind.value,
            target.endpoint.value,
            target.client_order_id,
        )
        if decision.kind is FaultKind.ERROR_503:
            raise VenueHTTPError(
                503, "UNAVAILABLE", decision.message or "venue unavailable (injected fault)"
            )
        if decision.kind is FaultKind.HANG:
            await asyncio.sleep(decision.hang_seconds)
            raise VenueHTTPError(
                503,
                "UNAVAILABLE",
                f"venue hung for {decision.hang_seconds:g}s (injected fault); nothing was done",
            )
        return decision.kind

    # ------------------------------------------------------ accounts & prices

    async def positions(self, account: str) -> list[Position]:
        if await self.store.call(VenueStore.account, account) is None:
            raise VenueHTTPError(404, "ACCOUNT_NOT_FOUND", f"unknown account {account!r}")
        return await self.store.call(VenueStore.positions, account)

    async def account(self, account: str) -> Account:
        found = await self.store.call(VenueStore.account, account)
        if found is None:
            raise VenueHTTPError(404, "ACCOUNT_NOT_FOUND", f"unknown account {account!r}")
        return found

    async def set_cash(self, account: str, cash: Decimal) -> Account:
        return await self.store.call(VenueStore.set_cash, account, cash)

    async def prices(self) -> dict[str, Decimal]:
        return await self.store.call(VenueStore.prices)

    async def set_prices(self, prices: dict[str, Decimal]) -> dict[str, Decimal]:
        await self.store.call(VenueStore.set_prices, prices)
        if not prices.keys() <= self._instruments.keys():
            await self._reload_instruments()  # a symbol priced for the first time is listed
        return await self.store.call(VenueStore.prices)

    @property
    def instrument_table(self) -> Mapping[str, Instrument]:
        """The listed instruments by symbol, as of the last change (the engine makes
        every change, so this copy is current; a dialect reads it without a store call)."""
        return self._instruments

    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    async def _reload_instruments(self) -> None:
        self._instruments = await self.store.call(VenueStore.instruments)

    async def listings(self, symbols: Collection[str] | None = None) -> list[InstrumentListing]:
        """Listed instruments (``symbols`` of them, when given), each saying whether it trades."""
        instruments = await self.instruments()
        prices = await self.prices()
        return [
            InstrumentListing(
                **instrument.model_dump(), trading=instrument.tradable and symbol in prices
            )
            for symbol, instrument in instruments.items()
            if symbols is None or symbol in symbols
        ]

    async def set_instruments(self, instruments: Sequence[Instrument]) -> None:
        await self.store.call(VenueStore.set_instruments, instruments)
        await self._reload_instruments()

    # ------------------------------------------------------------ admin/stats

    def add_fault(self, spec: FaultRuleSpec) -> FaultRule:
        rule = self.faults.add(spec)
        log.info(
            "fault rule added #%s kind=%s %s",
            rule.id,
            rule.kind.value,
            self.order_data_log.model(rule),
        )
        return rule

    async def stats(self) -> VenueStats:
        counts = await self.store.call(VenueStore.order_counts)
        return VenueStats(
            orders_by_status=counts.by_status,
            orders_total=counts.total,
            fenced_orders=counts.fenced,
            requests={endpoint.value: self._requests[endpoint.value] for endpoint in FaultEndpoint},
            place_outcomes={name: self._place_outcomes[name] for name in _PLACE_OUTCOMES},
            faults_injected=self.faults.injected(),
            started_at=self.started_at,
        )
