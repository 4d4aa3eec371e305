"""Security: payload encryption (codec, keys, codec server), venue request
signing and secret redaction. See docs/SECURITY.md."""

from execbatch.security.codec import CodecError, EncryptionCodec, codec_from_env
from execbatch.security.keys import KeyConfigError, Keyring, generate_key, keyring_from_env

__all__ = [
    "CodecError",
    "EncryptionCodec",
    "KeyConfigError",
    "Keyring",
    "codec_from_env",
    "generate_key",
    "keyring_from_env",
]
