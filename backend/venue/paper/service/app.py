"""The venue's HTTP routes (the contract is documented in docs/VENUE.md)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Annotated

from fastapi import Body, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from execbatch.dtos.types import PositiveDecimal, Symbol
from execbatch.security.venue_credentials import VenueCredentials
from execbatch.venue.paper.service.auth import VenueAuthMiddleware, warn_if_open
from execbatch.venue.paper.service.config import VenueSettings
from execbatch.venue.paper.service.dialects import alpaca_router, binance_router
from execbatch.venue.paper.service.engine import VenueEngine
from execbatch.venue.paper.service.http import VenueHTTPError, error_response, json_response
from execbatch.venue.paper.service.tracing import TraceContextMiddleware
from execbatch.venue.paper.wire import (
    AccountFunding,
    FaultEndpoint,
    FaultRule,
    FaultRuleSpec,
    Instrument,
    InstrumentListing,
    VenueError,
    VenueStats,
)
from execbatch.venue.port.orders import Account, OrderRequest, Position, VenueOrder

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": VenueError} for code in (404, 409, 422, 503)
}


def _endpoint_of(method: str, path: str) -> FaultEndpoint | None:
    """Which counted endpoint a raw request targets (before any routing)."""
    if path == "/orders":
        return FaultEndpoint.PLACE if method == "POST" else None
    if not path.startswith("/orders/"):
        return None
    rest = path[len("/orders/") :]
    if method == "POST" and rest.endswith("/cancel") and rest.count("/") == 1:
        return FaultEndpoint.CANCEL
    if method == "GET" and "/" not in rest:
        return FaultEndpoint.GET
    return None


class _RequestCounter:
    """Counts requests per endpoint for ``/admin/stats``, invalid bodies included
    (which is why this is middleware and not code in the route)."""

    def __init__(self, app: ASGIApp, engine: VenueEngine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = _endpoint_of(scope["method"], scope["path"])
            if endpoint is not None:
                self.engine.count_request(endpoint)
        await self.app(scope, receive, send)


def _describe(errors: list[ErrorDetails]) -> str:
    """``"quantity: Input should be greater than 0; side: ..."`` from pydantic errors."""
    parts: list[str] = []
    for error in errors:
        location = ".".join(str(part) for part in error["loc"] if part != "body")
        parts.append(f"{location or 'body'}: {error['msg']}")
    return "; ".join(parts) or "invalid request"


def create_app(settings: VenueSettings, credentials: VenueCredentials | None = None) -> FastAPI:
    """The venue as an ASGI app; the store is opened in the app's lifespan.

    ``credentials`` default to the environment (``EXECBATCH_VENUE_API_KEY``,
    ``EXECBATCH_VENUE_ADMIN_KEY``); with none configured the venue is open.
    """
    engine = VenueEngine(settings)
    credentials = credentials if credentials is not None else VenueCredentials.from_env()
    credentials.check_complete()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warn_if_open(credentials)
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    app = FastAPI(
        title="execbatch paper venue",
        version="1",
        lifespan=lifespan,
        description="A paper trading venue with fault injection. See docs/VENUE.md.",
    )
    app.state.engine = engine
    app.add_middleware(_RequestCounter, engine=engine)
    # added last, so outermost: a refused request is neither counted nor routed
    app.add_middleware(VenueAuthMiddleware, credentials=credentials)
    # outermost of all: the caller's trace continues even for a refused request
    app.add_middleware(TraceContextMiddleware)

    @app.exception_handler(VenueHTTPError)
    async def _venue_error(_: Request, exc: VenueHTTPError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        placing = request.method == "POST" and request.url.path == "/orders"
        if placing:
            engine.count_invalid_placement()
        code = "INVALID_ORDER" if placing else "INVALID_REQUEST"
        return error_response(VenueHTTPError(422, code, _describe(list(exc.errors()))))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
            exc.status_code, f"HTTP_{exc.status_code}"
        )
        return error_response(VenueHTTPError(exc.status_code, code, str(exc.detail)))

    # ------------------------------------------------------------------ orders

    @app.post("/orders", response_model=VenueOrder, status_code=201, responses=_ERRORS)
    async def place_order(request: OrderRequest) -> Response:
        status, order = await engine.place(request)
        return json_response(order, status_code=status)

    @app.get("/orders", response_model=list[VenueOrder])
    async def list_orders(
        account: Annotated[str | None, Query()] = None,
        symbol: Annotated[str | None, Query()] = None,
    ) -> Response:
        return json_response(await engine.list_orders(account, symbol))

    @app.get("/orders/{client_order_id}", response_model=VenueOrder, responses=_ERRORS)
    async def get_order(client_order_id: str) -> Response:
        return json_response(await engine.get(client_order_id))

    @app.post("/orders/{client_order_id}/cancel", response_model=VenueOrder, responses=_ERRORS)
    async def cancel_order(
        client_order_id: str, account: Annotated[str | None, Query()] = None
    ) -> Response:
        return json_response(await engine.cancel(client_order_id, account))

    # ------------------------------------------------------ positions/accounts

    @app.get("/positions", response_model=list[Position], responses=_ERRORS)
    async def positions(account: Annotated[str, Query(min_length=1)]) -> Response:
        return json_response(await engine.positions(account))

    @app.get("/prices", response_model=dict[str, Decimal])
    async def reference_prices() -> Response:
        """Reference prices (what a market order fills at), for a trading key too."""
        return json_response(await engine.prices())

    @app.get("/instruments", response_model=list[InstrumentListing])
    async def instruments(symbols: Annotated[str | None, Query()] = None) -> Response:
        """What the venue lists and each instrument's rules, for a trading key too
        (``?symbols=AAPL,BTC/USD``: those of them it lists; an unlisted one is absent)."""
        wanted = None if symbols is None else {s for s in symbols.split(",") if s}
        return json_response(await engine.listings(wanted))

    @app.get("/accounts/{account}", response_model=Account, responses=_ERRORS)
    async def get_account(account: str) -> Response:
        return json_response(await engine.account(account))

    # ------------------------------------------------------------------- admin

    @app.get("/admin/prices", response_model=dict[str, Decimal])
    async def get_prices() -> Response:
        return json_response(await engine.prices())

    @app.put("/admin/prices", response_model=dict[str, Decimal], responses=_ERRORS)
    async def set_prices(prices: Annotated[dict[Symbol, PositiveDecimal], Body()]) -> Response:
        return json_response(await engine.set_prices(prices))

    @app.get("/admin/instruments", response_model=list[InstrumentListing])
    async def get_instruments() -> Response:
        return json_response(await engine.listings())

    @app.put("/admin/instruments", response_model=list[InstrumentListing], responses=_ERRORS)
    async def set_instruments(instruments: Annotated[list[Instrument], Body()]) -> Response:
        """List instruments or replace their rules; answers every listing after it."""
        await engine.set_instruments(instruments)
        return json_response(await engine.listings())

    @app.put("/admin/accounts/{account}", response_model=Account, responses=_ERRORS)
    async def fund_account(account: str, funding: AccountFunding) -> Response:
        if not 1 <= len(account) <= 64:
            raise VenueHTTPError(422, "INVALID_REQUEST", "account must be 1 to 64 characters")
        return json_response(await engine.set_cash(account, funding.cash))

    @app.post("/admin/faults", response_model=FaultRule, status_code=201, responses=_ERRORS)
    async def add_fault(spec: FaultRuleSpec) -> Response:
        return json_response(engine.add_fault(spec), status_code=201)

    @app.get("/admin/faults", response_model=list[FaultRule])
    async def list_faults() -> Response:
        return json_response(engine.faults.rules())

    @app.delete("/admin/faults")
    async def clear_faults() -> Response:
        return json_response({"removed": engine.faults.clear()})

    @app.delete("/admin/faults/{rule_id}", responses=_ERRORS)
    async def delete_fault(rule_id: int) -> Response:
        if not engine.faults.remove(rule_id):
            raise VenueHTTPError(404, "FAULT_NOT_FOUND", f"no fault rule #{rule_id}")
        return json_response({"removed": 1})

    @app.get("/admin/stats", response_model=VenueStats)
    async def stats() -> Response:
        return json_response(await engine.stats())

    @app.get("/health")
    async def health() -> Response:
        return json_response(
            {
                "status": "ok",
                "pid": os.getpid(),
                "db_path": str(settings.db_path),
                "started_at": engine.started_at,
            }
        )

    # Venue dialects (service/dialects): real venues' APIs on the same engine.
    app.include_router(alpaca_router(engine, credentials))
    app.include_router(binance_router(engine))

    return app
