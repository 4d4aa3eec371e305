"""Encryption keys for the payload codec, loaded from the environment.

Keys never live in the repository: they come from ``EXECBATCH_CODEC_KEYS``
(``"k2=<base64>,k1=<base64>"``) or from the file named by
``EXECBATCH_CODEC_KEY_FILE`` (one ``id=<base64>`` per line, ``#`` comments),
never both. The current key (used to encrypt) is ``EXECBATCH_CODEC_KEY_ID``
or, when unset, the first key listed; every listed key decrypts, which is how
keys rotate: add the new key first, keep the old ones until no history that
needs them is retained.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV_KEYS = "EXECBATCH_CODEC_KEYS"
ENV_KEY_FILE = "EXECBATCH_CODEC_KEY_FILE"
ENV_KEY_ID = "EXECBATCH_CODEC_KEY_ID"

KEY_SIZES = (16, 24, 32)
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

log = logging.getLogger("execbatch.security")


class KeyConfigError(ValueError):
    """The key configuration is unusable; the message never contains key material."""


@dataclass(frozen=True)
class Keyring:
    """AES keys by id; ``current_id`` encrypts, all of them decrypt.

    ``repr`` shows the ids only, so a keyring in a log line or a traceback
    does not give its keys away.
    """

    current_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise KeyConfigError(f"current key id {self.current_id!r} is not in the keyring")
        for key_id, key in self.keys.items():
            _check_id(key_id)
            if len(key) not in KEY_SIZES:
                raise KeyConfigError(f"key {key_id!r} is {len(key)} bytes; AES needs 16, 24 or 32")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.keys)

    def __repr__(self) -> str:
        return f"Keyring(current_id={self.current_id!r}, ids={list(self.keys)!r})"


def _check_id(key_id: str) -> None:
    if not _KEY_ID.match(key_id):
        raise KeyConfigError(f"invalid key id {key_id!r}: use 1-64 of [A-Za-z0-9._-]")


def _decode_key(key_id: str, text: str) -> bytes:
    """Standard or URL-safe base64; the error names the key id, never the value."""
    cleaned = text.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"key {key_id!r} is not valid base64") from None


def parse_keys(entries: list[str], source: str) -> dict[str, bytes]:
    """``["k1=<base64>", ...]`` -> ``{"k1": b"..."}``, in the order given."""
    keys: dict[str, bytes] = {}
    for number, entry in enumerate(entries, start=1):
        key_id, sep, value = entry.partition("=")
        key_id = key_id.strip()
        if not sep or not key_id:
            raise KeyConfigError(f"{source}: entry {number} is not of the form id=<base64 key>")
        _check_id(key_id)
        if key_id in keys:
            raise KeyConfigError(f"{source}: key id {key_id!r} is listed twice")
        keys[key_id] = _decode_key(key_id, value)
    if not keys:
        raise KeyConfigError(f"{source}: no key listed")
    return keys


def _read_key_file(path: Path) -> list[str]:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyConfigError(f"cannot read key file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("key file %s is readable by group/others; chmod 600 it", path)
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def keyring_from_env(environ: Mapping[str, str] | None = None) -> Keyring | None:
    """The keyring the environment configures, or None when no key is configured."""
    env = os.environ if environ is None else environ
    inline = env.get(ENV_KEYS, "").strip()
    key_file = env.get(ENV_KEY_FILE, "").strip()
    if inline and key_file:
        raise KeyConfigError(f"set {ENV_KEYS} or {ENV_KEY_FILE}, not both")
    if inline:
        keys = parse_keys([part for part in inline.split(",") if part.strip()], ENV_KEYS)
    elif key_file:
        keys = parse_keys(_read_key_file(Path(key_file)), str(key_file))
    else:
        return None
    current = env.get(ENV_KEY_ID, "").strip() or next(iter(keys))
    return Keyring(current_id=current, keys=keys)


def generate_key(size: int = 32) -> str:
    """A fresh random AES key, base64-encoded (what ``EXECBATCH_CODEC_KEYS`` takes)."""
    if size not in KEY_SIZES:
        raise KeyConfigError("AES keys are 16, 24 or 32 bytes")
    return base64.b64encode(secrets.token_bytes(size)).decode("ascii")


__all__ = [
    "ENV_KEYS",
    "ENV_KEY_FILE",
    "ENV_KEY_ID",
    "KeyConfigError",
    "Keyring",
    "generate_key",
    "keyring_from_env",
    "parse_keys",
]
