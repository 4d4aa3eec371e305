"""AES-GCM payload codec: what Temporal stores is ciphertext.

Every payload our clients and workers send (workflow input and result,
activity arguments and results, query results, user metadata, and failure
messages via the encoded-attributes failure converter) passes through
``EncryptionCodec.encode``. The encrypted payload carries the id of the key
that sealed it in its metadata, so keys can rotate: the keyring's current key
seals, every key in it opens.

Wire form of an encrypted payload::

    metadata = {"encoding": b"binary/encrypted", "encryption-key-id": b"<id>"}
    data     = nonce (12 bytes) || AES-GCM(serialized original Payload)

The key id is bound as associated data, so a payload cannot be relabelled to
another key. Payloads without our encoding pass ``decode`` unchanged: a
history written before the codec was switched on stays readable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from execbatch.security.keys import Keyring, keyring_from_env

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_SIZE = 12
_AAD_PREFIX = b"execbatch-codec/v1|"


class CodecError(ValueError):
    """A payload cannot be decrypted; says why without any key material."""


class EncryptionCodec(PayloadCodec):
    """Encrypts with the keyring's current key, decrypts with any key it holds."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._ciphers: Mapping[str, AESGCM] = {
            key_id: AESGCM(key) for key_id, key in keyring.keys.items()
        }

    @property
    def key_ids(self) -> tuple[str, ...]:
        return self._keyring.ids

    @property
    def current_key_id(self) -> str:
        return self._keyring.current_id

    def __repr__(self) -> str:
        return f"EncryptionCodec({self._keyring!r})"

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._keyring.current_id
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), _aad(key_id))
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        raw_id = payload.metadata.get(KEY_ID_METADATA)
        if raw_id is None:
            raise CodecError(f"encrypted payload has no {KEY_ID_METADATA!r} metadata")
        key_id = raw_id.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(
                f"payload was encrypted with key {key_id!r}, which is not in the keyring "
                f"(known ids: {', '.join(self._keyring.ids)})"
            )
        if len(payload.data) <= NONCE_SIZE:
            raise CodecError("encrypted payload is too short")
        nonce, sealed = payload.data[:NONCE_SIZE], payload.data[NONCE_SIZE:]
        try:
            plain = cipher.decrypt(nonce, sealed, _aad(key_id))
        except InvalidTag:
            raise CodecError(
                f"payload failed authentication with key {key_id!r} (tampered or wrong key)"
            ) from None
        return Payload.FromString(plain)


def _aad(key_id: str) -> bytes:
    return _AAD_PREFIX + key_id.encode()


def codec_from_env(environ: Mapping[str, str] | None = None) -> EncryptionCodec | None:
    """The codec the environment configures (see ``execbatch.security.keys``), or None."""
    keyring = keyring_from_env(environ)
    return EncryptionCodec(keyring) if keyring is not None else None


__all__ = [
    "ENCODING",
    "KEY_ID_METADATA",
    "CodecError",
    "EncryptionCodec",
    "codec_from_env",
]
