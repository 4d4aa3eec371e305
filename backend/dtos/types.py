"""Constrained scalar types reused by the DTOs.

Identifiers travel into workflow ids, venue client order ids and search
attributes, so they are restricted to a safe, printable alphabet.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, StringConstraints

MAX_LEGS = 1000
"""Most legs one batch may carry: every mode is tested at this size (tests/workflows).

Beyond it a batch's input and history grow past what one workflow should hold;
split the directive instead.
"""

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]*$"

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=ID_PATTERN)]
"""An id: letters, digits, '.', '_', '-', starting with a letter or digit, at most 100 chars."""

BatchId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=ID_PATTERN)]
"""A batch id: an Identifier's alphabet, with room for the prefix planning puts
before a (up to 100 character) directive id, so every valid directive has a valid batch."""

Symbol = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9./\-]*$"),
]
"""A venue symbol such as ``AAPL``, ``BRK.B`` or ``BTC/USD`` (upper case)."""


_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _reject_float(value: Any) -> Any:
    """Money and quantities must not pass through binary floating point.

    A JSON number such as ``0.1`` would already have lost precision by the time
    it reached us, so only strings, ints and Decimals are accepted: ``"10.5"``
    or ``100``, never ``10.5`` or ``1e2``.
    """
    if isinstance(value, float):
        raise ValueError(
            'must be a decimal string such as "10.5" or a whole number, not a float '
            f"({value!r} may already have lost precision)"
        )
    if isinstance(value, bool):
        raise ValueError("must be a decimal string or a whole number, not a boolean")
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value.strip()):
        # Python's Decimal also reads "1_000", "NaN" and "Infinity"; other tools
        # reading the same document would not, so only plain decimals pass.
        raise ValueError(f'must be a plain decimal string such as "10.5", got {value!r}')
    return value


def _fixed_point(value: Decimal) -> str:
    """JSON text in fixed-point notation: ``"0.00000001"``, never ``"1E-8"``.

    ``str(Decimal("0.00000001"))`` is ``"1E-8"``; other tools read our JSON
    documents, and the venue wire format is fixed-point too.
    """
    return format(value, "f")


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


PositiveDecimal = Annotated[
    Decimal,
    BeforeValidator(_reject_float),
    AfterValidator(_finite),
    Field(gt=0, max_digits=38, decimal_places=18),
    PlainSerializer(_fixed_point, return_type=str, when_used="json"),
]
"""A strictly positive Decimal (quantities, prices), never a float."""

Quantity = Annotated[Decimal, PlainSerializer(_fixed_point, return_type=str, when_used="json")]
"""A reported Decimal (fills, positions, prices): any sign, fixed-point in JSON."""
