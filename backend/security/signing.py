"""HMAC-SHA256 request signing for the venue's HTTP API, as real venues do it.

The client signs ``timestamp \\n METHOD \\n path?query \\n sha256(body)`` with
its secret and sends the timestamp and signature in headers; the venue
recomputes the signature with each secret the endpoint accepts (constant-time
comparison) and refuses requests whose timestamp is outside its window, so a
captured request is only replayable for that long. The secret itself never
travels. Order placement is idempotent by ``client_order_id``, so a replay
inside the window cannot place a second order either.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

TIMESTAMP_HEADER = "x-execbatch-timestamp"
SIGNATURE_HEADER = "x-execbatch-signature"
DEFAULT_WINDOW_SECONDS = 60.0


class Verdict(str, Enum):
    OK = "OK"
    MISSING = "MISSING"
    BAD_TIMESTAMP = "BAD_TIMESTAMP"
    EXPIRED = "EXPIRED"
    BAD_SIGNATURE = "BAD_SIGNATURE"


VERDICT_MESSAGES: Mapping[Verdict, str] = {
    Verdict.MISSING: "request is not signed (missing timestamp or signature header)",
    Verdict.BAD_TIMESTAMP: "signature timestamp is not a number",
    Verdict.EXPIRED: "signature timestamp is outside the allowed window",
    Verdict.BAD_SIGNATURE: "signature does not match any accepted key",
}


def canonical_request(method: str, target: bytes, body: bytes, timestamp: str) -> bytes:
    """What gets signed; ``target`` is the raw path with its query (``/a?b=c``)."""
    digest = hashlib.sha256(body).hexdigest()
    return b"\n".join((timestamp.encode(), method.upper().encode(), target, digest.encode()))


def signature(secret: str, method: str, target: bytes, body: bytes, timestamp: str) -> str:
    message = canonical_request(method, target, body, timestamp)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_headers(
    secret: str, method: str, target: bytes, body: bytes, now: float | None = None
) -> dict[str, str]:
    """The headers that authenticate one request."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, method, target, body, timestamp),
    }


@dataclass(frozen=True)
class SignatureVerifier:
    """Checks signed requests against a timestamp window."""

    window_seconds: float = DEFAULT_WINDOW_SECONDS

    def verify(
        self,
        secrets: Iterable[str],
        method: str,
        target: bytes,
        body: bytes,
        timestamp: str | None,
        presented: str | None,
        now: float | None = None,
    ) -> Verdict:
        if not timestamp or not presented:
            return Verdict.MISSING
        try:
            stamp = float(timestamp)
        except ValueError:
            return Verdict.BAD_TIMESTAMP
        current = time.time() if now is None else now
        if abs(current - stamp) > self.window_seconds:
            return Verdict.EXPIRED
        matched = False
        for secret in secrets:
            expected = signature(secret, method, target, body, timestamp)
            # no early exit: every accepted key is tried, whichever matches
            matched |= hmac.compare_digest(expected.encode(), presented.strip().encode())
        return Verdict.OK if matched else Verdict.BAD_SIGNATURE


__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "VERDICT_MESSAGES",
    "SignatureVerifier",
    "Verdict",
    "canonical_request",
    "sign_headers",
    "signature",
]
