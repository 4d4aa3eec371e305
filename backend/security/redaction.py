"""Keep secrets out of log output, as a second line of defence.

The first line is not to log secrets at all (our code never formats a key,
token or signature secret into a message or an exception). This module
covers the rest: a log-record factory that replaces any known secret, in its
raw, base64 and hex forms, with ``[REDACTED]`` in every record's message,
whichever logger or handler it goes to.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 8
"""Shorter values are not redacted: replacing ``"abc"`` everywhere helps nobody."""

SECRET_ENV_VARS = (
    "EXECBATCH_CODEC_KEYS",
    "EXECBATCH_CODEC_SERVER_TOKEN",
    "EXECBATCH_VENUE_API_KEY",
    "EXECBATCH_VENUE_ADMIN_KEY",
    "TEMPORAL_API_KEY",
)

_lock = threading.Lock()
_forms: list[str] = []
_installed = False


def secret_forms(secret: str | bytes) -> set[str]:
    """The spellings under which ``secret`` could show up in text."""
    raw = secret.encode() if isinstance(secret, str) else secret
    forms = {
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
        raw.hex().upper(),
    }
    if raw.isascii():
        forms.add(raw.decode("ascii"))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def secret_values_from_env(environ: Mapping[str, str] | None = None) -> set[str]:
    """Secret values configured in the environment, key lists split into keys."""
    env = os.environ if environ is None else environ
    values: set[str] = set()
    for name in SECRET_ENV_VARS:
        value = env.get(name, "").strip()
        if not value:
            continue
        values.add(value)
        if name == "EXECBATCH_CODEC_KEYS":
            for entry in value.split(","):
                key = entry.partition("=")[2].strip()
                if key:
                    values.add(key)
                    values.update(_decoded_key(key))
    return values


def _decoded_key(text: str) -> set[str]:
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return set()
    return secret_forms(raw)


def _all_forms(secrets: Iterable[str]) -> list[str]:
    forms: set[str] = set()
    for secret in secrets:
        forms |= secret_forms(secret)
    return sorted(forms, key=len, reverse=True)


def _replace(text: str, forms: Iterable[str]) -> str:
    for form in forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every secret replaced by ``[REDACTED]``."""
    return _replace(text, _all_forms(secrets))


def install_redaction(secrets: Iterable[str] | None = None) -> None:
    """Redact ``secrets`` (default: those in the environment) from all log records.

    Idempotent; later calls add secrets. Tracebacks attached to records are
    formatted later by handlers and are not covered: exceptions of ours carry
    no secrets in the first place.
    """
    global _installed
    values = set(secrets) if secrets is not None else secret_values_from_env()
    with _lock:
        known = set(_forms) | set(_all_forms(values))
        _forms[:] = sorted(known, key=len, reverse=True)
        if _installed:
            return
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _forms:
                message = record.getMessage()
                cleaned = _replace(message, tuple(_forms))
                if cleaned != message:
                    record.msg, record.args = cleaned, None
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


__all__ = [
    "REDACTED",
    "SECRET_ENV_VARS",
    "install_redaction",
    "redact",
    "secret_forms",
    "secret_values_from_env",
]
