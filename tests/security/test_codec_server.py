"""The codec server: token required, CORS for the Web UI origin, Temporal's JSON format."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from execbatch.security.codec import ENCODING, EncryptionCodec, codec_from_env
from tests.security.stack import CodecServer, SecretSet, child_env

UI_ORIGIN = "http://127.0.0.1:18233"
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"symbol":"HUSHA"}')


@pytest.fixture(scope="module")
def codec_server(secret_set: SecretSet, security_logs: Path) -> Iterator[CodecServer]:
    with CodecServer(security_logs / "codec-server-unit.log", secret_set.env(), [UI_ORIGIN]) as s:
        yield s


def body(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def parse(text: str) -> list[Payload]:
    return list(json_format.Parse(text, Payloads()).payloads)


def auth(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "X-Namespace": "default",
        "Origin": UI_ORIGIN,
    }


def test_decode_with_the_token_returns_plaintext(
    codec_server: CodecServer, codec: EncryptionCodec, secret_set: SecretSet
) -> None:
    sealed = [codec.encrypt(PLAIN)]
    old_only = codec_from_env({"EXECBATCH_CODEC_KEYS": f"k1={secret_set.old_codec_key}"})
    assert old_only is not None
    sealed_with_old_key = [old_only.encrypt(PLAIN)]
    answer = httpx.post(
        f"{codec_server.url}/decode",
        content=body(*sealed, *sealed_with_old_key),
        headers=auth(secret_set.codec_token),
    )
    assert answer.status_code == 200
    assert parse(answer.text) == [PLAIN, PLAIN]
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN


def test_encode_then_decode(codec_server: CodecServer, secret_set: SecretSet) -> None:
    encoded = httpx.post(
        f"{codec_server.url}/encode", content=body(PLAIN), headers=auth(secret_set.codec_token)
    )
    assert encoded.status_code == 200
    [sealed] = parse(encoded.text)
    assert sealed.metadata["encoding"] == ENCODING
    decoded = httpx.post(
        f"{codec_server.url}/decode", content=encoded.text, headers=auth(secret_set.codec_token)
    )
    assert parse(decoded.text) == [PLAIN]


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token", "Basic {token}", "{token}", "Bearer {token}x"]
)
def test_without_the_right_token_401(
    header: str | None, codec_server: CodecServer, codec: EncryptionCodec, secret_set: SecretSet
) -> None:
    sealed = [codec.encrypt(PLAIN)]
    headers = {"Content-Type": "application/json", "Origin": UI_ORIGIN}
    if header is not None:
        headers["Authorization"] = header.format(token=secret_set.codec_token)
    for path in ("/decode", "/encode"):
        answer = httpx.post(f"{codec_server.url}{path}", content=body(*sealed), headers=headers)
        assert answer.status_code == 401
        assert b"HUSHA" not in answer.content
        assert secret_set.codec_token not in answer.text


def test_cors_preflight_allows_the_ui_origin_only(codec_server: CodecServer) -> None:
    request_headers = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    allowed = httpx.options(
        f"{codec_server.url}/decode", headers={**request_headers, "Origin": UI_ORIGIN}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    allowed_headers = allowed.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-namespace"} <= {
        h.strip() for h in allowed_headers.split(",")
    }
    other = httpx.options(
        f"{codec_server.url}/decode", headers={**request_headers, "Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers


def test_tampered_payload_is_422_without_key_material(
    codec_server: CodecServer, codec: EncryptionCodec, secret_set: SecretSet
) -> None:
    [sealed] = [codec.encrypt(PLAIN)]
    broken = Payload(metadata=sealed.metadata, data=sealed.data[:-2] + b"\x00\x00")
    answer = httpx.post(
        f"{codec_server.url}/decode", content=body(broken), headers=auth(secret_set.codec_token)
    )
    assert answer.status_code == 422
    for value in secret_set.forms().values():
        assert value not in answer.text


def test_refuses_to_start_without_a_token(secret_set: SecretSet) -> None:
    env = child_env({"EXECBATCH_CODEC_KEYS": f"k1={secret_set.codec_key}"})
    env.pop("EXECBATCH_CODEC_SERVER_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "execbatch.security.codec_server", "--port", "0"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert b"EXECBATCH_CODEC_SERVER_TOKEN" in done.stderr
    assert secret_set.codec_key.encode() not in done.stderr
    assert base64.b64decode(secret_set.codec_key).hex().encode() not in done.stderr
