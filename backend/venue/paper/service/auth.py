"""Authentication of the venue's HTTP API (signed requests, see execbatch.security.signing).

Every endpoint but ``/health`` and the API docs needs a valid signature:
``/admin/*`` with an admin key, the rest (orders, positions, accounts) with a
trading or an admin key. A refused request gets 401 before any route, counter
or store sees it, so it changes nothing. With no key configured the venue is
open (development only) and says so once at start-up.
"""

from __future__ import annotations

import logging
from enum import Enum

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from execbatch.security.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    VERDICT_MESSAGES,
    SignatureVerifier,
    Verdict,
)
from execbatch.security.venue_credentials import ENV_ADMIN_KEY, ENV_API_KEY, VenueCredentials
from execbatch.venue.paper.service.http import VenueHTTPError, error_response

log = logging.getLogger("execbatch.venue.auth")

OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})

DIALECT_PREFIXES: tuple[str, ...] = ("/v2/", "/api/v3/")
"""Paths of venue dialects (``service/dialects``): Alpaca's ``/v2/``, Binance's
``/api/v3/``. Their routers authenticate them with the venue's own key headers,
not signatures."""


class Role(str, Enum):
    OPEN = "OPEN"
    DIALECT = "DIALECT"
    TRADING = "TRADING"
    ADMIN = "ADMIN"


def role_of(path: str) -> Role:
    """Which keys a path needs; unknown paths need a trading key (deny by default)."""
    if path in OPEN_PATHS:
        return Role.OPEN
    if path.startswith(DIALECT_PREFIXES):
        return Role.DIALECT
    if path == "/admin" or path.startswith("/admin/"):
        return Role.ADMIN
    return Role.TRADING


def warn_if_open(credentials: VenueCredentials) -> None:
    if not credentials.enabled:
        log.warning(
            "venue runs UNAUTHENTICATED (development only): anyone who can reach it can "
            "trade and reconfigure it; set %s and %s to require signed requests",
            ENV_API_KEY,
            ENV_ADMIN_KEY,
        )


class VenueAuthMiddleware:
    """Verifies request signatures before the request reaches the app."""

    def __init__(self, app: ASGIApp, credentials: VenueCredentials) -> None:
        self.app = app
        self.credentials = credentials
        self.verifier = SignatureVerifier(credentials.window_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        role = role_of(scope["path"]) if scope["type"] == "http" else Role.OPEN
        if not self.credentials.enabled or role in (Role.OPEN, Role.DIALECT):
            await self.app(scope, receive, send)
            return
        body, replay = await _buffer_body(receive)
        headers = {key.decode("latin-1").lower(): value for key, value in scope["headers"]}
        keys = self.credentials.admin_keys
        if role is Role.TRADING:
            keys = self.credentials.api_keys + keys
        verdict = self.verifier.verify(
            keys,
            scope["method"],
            _target(scope),
            body,
            _header(headers, TIMESTAMP_HEADER),
            _header(headers, SIGNATURE_HEADER),
        )
        if verdict is not Verdict.OK:
            client = scope.get("client") or ("?", 0)
            log.warning(
                "refused %s %s from %s: %s (needs %s key)",
                scope["method"],
                scope["path"],
                client[0],
                verdict.value,
                role.value.lower(),
            )
            response = error_response(
                VenueHTTPError(401, "UNAUTHORIZED", VERDICT_MESSAGES[verdict])
            )
            await response(scope, replay, send)
            return
        await self.app(scope, replay, send)


def _header(headers: dict[str, bytes], name: str) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


def _target(scope: Scope) -> bytes:
    """The raw request target as the client sent it: path plus query string."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string") or b""
    return bytes(raw_path) + (b"?" + query if query else b"")


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body (it is signed) and a ``receive`` that hands it on again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
