"""Risk limits per account, from a file and/or the environment, validated at start.

The file (``EXECBATCH_RISK_LIMITS_FILE``; JSON, or TOML when it ends ``.toml``)::

    {
      "default":  {"max_order_notional": "50000", "max_orders_per_second": 20},
      "accounts": {"pairs": {"max_position": "1000", "refused_symbols": ["GME"]}}
    }

An account's limits are the default's, with the fields its own entry sets.
``EXECBATCH_RISK_MAX_ORDER_NOTIONAL`` (and ``_MAX_BATCH_NOTIONAL``,
``_MAX_POSITION``, ``_MAX_ORDERS_PER_SECOND``, ``_ALLOWED_SYMBOLS``,
``_REFUSED_SYMBOLS``, comma-separated) set the default's fields over the file.
No limit means no check; a limit of 0 or below is refused, as is any unknown
field. Errors name the file (or variable) and the field.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_FILE = "EXECBATCH_RISK_LIMITS_FILE"
ENV_PREFIX = "EXECBATCH_RISK_"
_ENV_FIELDS = (
    "max_order_notional",
    "max_batch_notional",
    "max_position",
    "max_orders_per_second",
    "allowed_symbols",
    "refused_symbols",
)


class RiskConfigError(ValueError):
    """The limits are invalid; the message names where and which field."""


class AccountLimits(BaseModel):
    """One account's limits; None: not checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_order_notional: Decimal | None = Field(default=None, gt=0)
    """Quantity x price of one leg (its limit price, else the venue's reference price)."""
    max_batch_notional: Decimal | None = Field(default=None, gt=0)
    """The sum of the legs' notionals."""
    max_position: Decimal | None = Field(default=None, gt=0)
    """Largest absolute net position per symbol after the batch (the venue's position
    plus every leg of the batch in that symbol, as if all filled)."""
    allowed_symbols: frozenset[str] | None = None
    """Only these symbols may be traded (None: any)."""
    refused_symbols: frozenset[str] = frozenset()
    max_orders_per_second: float | None = Field(default=None, gt=0)
    """Placements per second for the account, across every worker (a task-queue
    rate limit: placements are delayed, never refused)."""

    @property
    def checks_notional(self) -> bool:
        return self.max_order_notional is not None or self.max_batch_notional is not None


class RiskLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    default: AccountLimits = AccountLimits()
    accounts: dict[str, AccountLimits] = {}

    def for_account(self, account: str) -> AccountLimits:
        own = self.accounts.get(account)
        if own is None:
            return self.default
        return self.default.model_copy(
            update={name: getattr(own, name) for name in own.model_fields_set}
        )

    def throttled_accounts(self) -> dict[str, float]:
        """Every account with an orders-per-second limit (``*``: the default's)."""
        rates = {
            name: limits.max_orders_per_second
            for name in self.accounts
            if (limits := self.for_account(name)).max_orders_per_second is not None
        }
        if self.default.max_orders_per_second is not None:
            rates["*"] = self.default.max_orders_per_second
        return rates


def throttle_task_queue(task_queue: str, account: str, limits: RiskLimits) -> str | None:
    """The task queue that paces ``account``'s placements (None: not throttled)."""
    if limits.for_account(account).max_orders_per_second is None:
        return None
    name = account if account in limits.accounts else "*"
    return f"{task_queue}:placements:{name}"


def _describe(error: ValidationError, where: str, prefix: str = "") -> str:
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"])
        lines.append(f"{where}: field {prefix}{field}: {problem['msg']}")
    return "invalid risk limits\n  " + "\n  ".join(lines)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise RiskConfigError(f"{path}: cannot read the risk limits file: {exc}") from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise RiskConfigError(
            f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise RiskConfigError(f"{path}: expected an object with 'default' and/or 'accounts'")
    return data


def _env_value(name: str, raw: str) -> object:
    if name.endswith("_symbols"):
        return [s.strip() for s in raw.split(",") if s.strip()]
    return raw


def load_limits(environ: Mapping[str, str] | None = None) -> RiskLimits:
    """The limits from ``EXECBATCH_RISK_LIMITS_FILE`` and the variables; raises
    ``RiskConfigError`` naming the file or variable and the field."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    path = environ.get(ENV_FILE)
    where = "environment"
    if path:
        data = _read_file(Path(path))
        where = path
    try:
        limits = RiskLimits.model_validate(data)
    except ValidationError as exc:
        raise RiskConfigError(_describe(exc, where)) from exc
    overrides = {
        name: _env_value(name, environ[ENV_PREFIX + name.upper()])
        for name in _ENV_FIELDS
        if environ.get(ENV_PREFIX + name.upper())
    }
    if not overrides:
        return limits
    try:
        default = AccountLimits.model_validate(
            {**limits.default.model_dump(exclude_unset=True), **overrides}
        )
    except ValidationError as exc:
        lines = [
            f"environment: {ENV_PREFIX}{'.'.join(map(str, p['loc'])).upper()}: {p['msg']}"
            for p in exc.errors()
        ]
        raise RiskConfigError("invalid risk limits\n  " + "\n  ".join(lines)) from exc
    return limits.model_copy(update={"default": default})
