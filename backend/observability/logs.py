"""Logs as plain text (default) or JSON, one event per line (``EXECBATCH_LOG_FORMAT=json``).

A JSON event carries ``ts``, ``level``, ``logger``, ``message``, and where
they apply ``batch_id``, ``command_id`` and ``client_order_id`` (from
``log_context``, which the activity interceptor sets around every activity,
or from a record's ``extra``), plus ``trace_id``/``span_id`` when a span is
current, so a log line leads to its trace. Exceptions come as one
``exception`` string field, still on the same line.

Secrets are redacted from every record (``execbatch.security.redaction``), in
both formats. Our worker, CLI and activity code log ids, statuses and
outcomes, never an order's symbol, quantity or price; with the payload codec
on, a record's ``extra`` fields other than the ids are dropped from JSON
events as well, and a logged exception keeps its types, codes and stack
frames but not its messages: a venue's rejection text quotes the order
("no reference price for symbol 'X'"), and the Temporal SDK logs every failed
activity with its exception. The full failure stays in the (encrypted)
workflow history, readable through the codec server.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from execbatch.security.redaction import install_redaction

ENV_FORMAT = "EXECBATCH_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
CONTEXT_KEYS = ("batch_id", "command_id", "client_order_id")

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "execbatch_log_context", default=None
)

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


def log_format_from_env() -> str:
    """``text`` or ``json`` (``EXECBATCH_LOG_FORMAT``; default text)."""
    value = os.environ.get(ENV_FORMAT, "text").strip().lower() or "text"
    if value not in ("text", "json"):
        raise ValueError(f"{ENV_FORMAT} must be 'text' or 'json', not {value!r}")
    return value


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Attach ids (batch_id, command_id, client_order_id) to every record logged inside."""
    current = dict(_context.get() or {})
    current.update({key: value for key, value in ids.items() if value})
    token = _context.set(current)
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> dict[str, str]:
    return dict(_context.get() or {})


REDACTED_MESSAGE = "(message redacted: payload codec on)"


def format_exception_redacted(exc: BaseException) -> str:
    """A traceback like Python's, each exception of the chain without its message.

    Kept: the type, a Temporal ``ApplicationError``'s ``type`` (the venue's error
    code, e.g. ``UNKNOWN_SYMBOL``), the frames. Dropped: ``str(exc)``, which for a
    venue error is the venue's free text about the order.
    """
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        cause = current.__cause__
        suppressed = cause is not None or current.__suppress_context__
        current = cause if suppressed else current.__context__
    parts: list[str] = []
    for item in reversed(chain):
        code = getattr(item, "type", None)
        name = f"{type(item).__module__}.{type(item).__qualname__}"
        frames = "".join(traceback.format_tb(item.__traceback__))
        parts.append(
            f"Traceback (most recent call last):\n{frames}{name}"
            f"{f' [type={code}]' if isinstance(code, str) else ''}: {REDACTED_MESSAGE}"
        )
    return "\n\nwhich caused:\n\n".join(parts)


def _redacted_exc_text(record: logging.LogRecord) -> str | None:
    exc = record.exc_info[1] if record.exc_info else None
    return format_exception_redacted(exc) if exc is not None else None


class RedactingTextFormatter(logging.Formatter):
    """The text format, exceptions without their messages (codec on)."""

    def formatException(self, ei: Any) -> str:
        exc = ei[1] if isinstance(ei, tuple) else None
        return format_exception_redacted(exc) if exc is not None else super().formatException(ei)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def __init__(self, *, redact_extras: bool = False) -> None:
        super().__init__()
        self._redact_extras = redact_extras

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update(current_log_context())
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            if key in CONTEXT_KEYS or not self._redact_extras:
                event[key] = value if isinstance(value, str | int | float | bool) else str(value)
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            event["trace_id"] = format(span.trace_id, "032x")
            event["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            redacted = _redacted_exc_text(record) if self._redact_extras else None
            event["exception"] = redacted or self.formatException(record.exc_info)
        return json.dumps(event, separators=(",", ":"), default=str)


def configure_logging(
    fmt: str | None = None,
    *,
    level: int | str = logging.INFO,
    codec_on: bool | None = None,
    force: bool = False,
) -> None:
    """Set up the root logger for a process of ours (worker, venue, CLI).

    ``fmt``: ``text`` or ``json`` (default: ``EXECBATCH_LOG_FORMAT``). Leaves a
    root logger that already has handlers alone unless ``force``: a program
    embedding us configures its own logging. Secrets in the environment are
    redacted from every record either way.
    """
    fmt = fmt or log_format_from_env()
    install_redaction()
    if codec_on is None:
        from execbatch.security.codec import codec_from_env

        codec_on = codec_from_env() is not None
    root = logging.getLogger()
    if root.handlers and not force:
        return
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(redact_extras=codec_on))
    else:
        handler.setFormatter(
            RedactingTextFormatter(TEXT_FORMAT) if codec_on else logging.Formatter(TEXT_FORMAT)
        )
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    # One INFO line per venue request costs CPU at load and says nothing new.
    logging.getLogger("httpx").setLevel(logging.WARNING)
