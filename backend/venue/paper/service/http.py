"""JSON rendering and the error type of the venue's HTTP layer.

Responses are rendered here rather than by FastAPI's encoder so that Decimals
always come out as fixed-point strings (``"0.00000001"``, never ``"1E-8"``)
and every error body has the same ``{"error", "message"}`` shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TypeAlias

from fastapi import Response
from pydantic import BaseModel

from execbatch.venue.paper.service.matching import fmt_decimal

JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None


class VenueHTTPError(Exception):
    """An answer other than 2xx, with its machine-readable code.

    ``extra`` adds fields next to ``error``/``message`` (e.g. the stored
    order of a rejection), which clients parsing ``VenueError`` ignore.
    """

    def __init__(
        self,
        status_code: int,
        error: str,
        message: str,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(f"{status_code} {error}: {message}")
        self.status_code = status_code
        self.error = error
        self.message = message
        self.extra = dict(extra or {})

    def body(self) -> dict[str, object]:
        return {"error": self.error, "message": self.message, **self.extra}


def to_jsonable(value: object) -> JSONValue:
    """Plain JSON data from models, Decimals, datetimes, enums and containers."""
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump())
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, Decimal):
        return fmt_decimal(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [to_jsonable(item) for item in value]
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def json_response(payload: object, status_code: int = 200) -> Response:
    body = json.dumps(to_jsonable(payload), separators=(",", ":"))
    return Response(content=body, status_code=status_code, media_type="application/json")


def error_response(exc: VenueHTTPError) -> Response:
    return json_response(exc.body(), status_code=exc.status_code)
