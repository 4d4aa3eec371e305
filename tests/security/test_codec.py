"""The AES-GCM codec and its keyring, through their public functions."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from execbatch.security.codec import (
    ENCODING,
    KEY_ID_METADATA,
    CodecError,
    EncryptionCodec,
    codec_from_env,
)
from execbatch.security.keys import KeyConfigError, generate_key, keyring_from_env
from execbatch.security.redaction import REDACTED, redact

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"symbol":"HUSHA","quantity":"17"}')


def codec_for(keys: str, current: str | None = None) -> EncryptionCodec:
    env = {"EXECBATCH_CODEC_KEYS": keys}
    if current:
        env["EXECBATCH_CODEC_KEY_ID"] = current
    codec = codec_from_env(env)
    assert codec is not None
    return codec


async def test_round_trip_hides_the_payload_and_names_the_key() -> None:
    codec = codec_for(f"k1={generate_key()}")
    [sealed] = await codec.encode([PLAIN])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"k1"
    assert b"HUSHA" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [PLAIN]
    [again] = await codec.encode([PLAIN])
    assert again.data != sealed.data, "a fresh nonce each time"


async def test_rotation_old_payloads_stay_readable_new_ones_use_the_new_key() -> None:
    old, new = generate_key(), generate_key()
    before = codec_for(f"k1={old}")
    after = codec_for(f"k2={new},k1={old}")
    [sealed_old] = await before.encode([PLAIN])
    [sealed_new] = await after.encode([PLAIN])
    assert sealed_new.metadata[KEY_ID_METADATA] == b"k2"
    assert await after.decode([sealed_old, sealed_new]) == [PLAIN, PLAIN]
    with pytest.raises(CodecError, match="'k2', which is not in the keyring"):
        await before.decode([sealed_new])
    explicit = codec_for(f"k2={new},k1={old}", current="k1")
    assert (await explicit.encode([PLAIN]))[0].metadata[KEY_ID_METADATA] == b"k1"


async def test_tampering_and_relabelling_are_detected_without_leaking_the_key() -> None:
    key_a, key_b = generate_key(), generate_key()
    codec = codec_for(f"a={key_a},b={key_b}")
    [sealed] = await codec.encode([PLAIN])
    flipped = Payload(
        metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    )
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID_METADATA: b"b"}, data=sealed.data)
    for bad in (flipped, relabelled):
        with pytest.raises(CodecError) as failed:
            await codec.decode([bad])
        for key in (key_a, key_b):
            assert key not in str(failed.value)
            assert base64.b64decode(key).hex() not in str(failed.value)


async def test_unencrypted_payloads_pass_through_decode() -> None:
    codec = codec_for(f"k1={generate_key()}")
    assert await codec.decode([PLAIN]) == [PLAIN]


def test_no_keys_no_codec() -> None:
    assert codec_from_env({}) is None


def test_key_file(tmp_path: Path) -> None:
    key = generate_key()
    path = tmp_path / "keys"
    path.write_text(f"# rotated 2024-05\nnew={key}\nold={generate_key(16)}\n")
    path.chmod(0o600)
    keyring = keyring_from_env({"EXECBATCH_CODEC_KEY_FILE": str(path)})
    assert keyring is not None
    assert keyring.current_id == "new" and keyring.ids == ("new", "old")
    assert key not in repr(keyring)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EXECBATCH_CODEC_KEYS": "k1=not!base64"}, "not valid base64"),
        ({"EXECBATCH_CODEC_KEYS": "k1=" + base64.b64encode(b"short").decode()}, "5 bytes"),
        ({"EXECBATCH_CODEC_KEYS": "justakey"}, "id=<base64 key>"),
        ({"EXECBATCH_CODEC_KEYS": f"k1={generate_key()},k1={generate_key()}"}, "twice"),
        ({"EXECBATCH_CODEC_KEYS": "k1=" + generate_key(), "EXECBATCH_CODEC_KEY_ID": "k9"}, "k9"),
        (
            {"EXECBATCH_CODEC_KEYS": "k1=" + generate_key(), "EXECBATCH_CODEC_KEY_FILE": "/x"},
            "not both",
        ),
        ({"EXECBATCH_CODEC_KEY_FILE": "/nonexistent/keys"}, "cannot read"),
    ],
)
def test_bad_configuration_is_refused_without_echoing_keys(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(KeyConfigError, match=message) as failed:
        keyring_from_env(env)
    for entry in env.get("EXECBATCH_CODEC_KEYS", "").split(","):
        value = entry.partition("=")[2]
        if len(value) > 8:
            assert value not in str(failed.value)


def test_redact_covers_raw_base64_and_hex_forms() -> None:
    secret = "s3cr3t-token-value"
    text = f"a {secret} b {base64.b64encode(secret.encode()).decode()} c {secret.encode().hex()}"
    cleaned = redact(text, [secret])
    assert secret not in cleaned and cleaned.count(REDACTED) == 3
