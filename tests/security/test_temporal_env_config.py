"""TLS, mTLS and API keys for the Temporal connection come from Temporal's standard env config."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from execbatch.config.environment import ExecbatchConfig


def test_mtls_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {}
    for name in ("client.pem", "client.key", "ca.pem"):
        files[name] = tmp_path / name
        files[name].write_text(f"-----BEGIN TEST {name}-----\n")
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "trading")
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(files["client.pem"]))
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(files["client.key"]))
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(files["ca.pem"]))
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.internal")

    config = ExecbatchConfig.from_env()

    assert config.address == "temporal.internal:7233"
    assert config.namespace == "trading"
    tls = config.temporal["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == files["client.pem"].read_bytes()
    assert tls.client_private_key == files["client.key"].read_bytes()
    assert tls.server_root_ca_cert == files["ca.pem"].read_bytes()
    assert tls.domain == "temporal.internal"


def test_api_key_from_environment_turns_tls_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "eu.cloud.example:7233")
    monkeypatch.setenv("TEMPORAL_API_KEY", "test-api-key-not-real")

    config = ExecbatchConfig.from_env()

    assert config.temporal["api_key"] == "test-api-key-not-real"
    assert config.temporal.get("tls") not in (None, False)
