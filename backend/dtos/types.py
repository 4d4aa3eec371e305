"""Constrained scalar types reused by the DTOs.

Identifiers travel into workflow ids, venue client order ids and search
attributes, so they are restricted to a safe, printable alphabet.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"),
]
"""An id: letters, digits, '.', '_', '-', starting with a letter or digit, at most 100 chars."""

Symbol = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9./\-]*$"),
]
"""A venue symbol such as ``AAPL``, ``BRK.B`` or ``BTC/USD`` (upper case)."""


def _reject_float(value: Any) -> Any:
    """Money and quantities must not pass through binary floating point.

    A JSON number such as ``0.1`` would already have lost precision by the time
    it reached us, so only strings, ints and Decimals are accepted.
    """
    if isinstance(value, float):
        raise ValueError('must be a decimal string such as "10.5", not a float')
    if isinstance(value, bool):
        raise ValueError("must be a decimal string, not a boolean")
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


PositiveDecimal = Annotated[
    Decimal,
    BeforeValidator(_reject_float),
    AfterValidator(_finite),
    Field(gt=0, max_digits=38, decimal_places=18),
]
"""A strictly positive Decimal (quantities, prices), never a float."""
