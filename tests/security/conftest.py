"""Fixtures for the security tests: secrets, a dev server, a signed venue, codec clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from execbatch.config.connection import connect
from execbatch.config.environment import ExecbatchConfig
from execbatch.security.codec import EncryptionCodec, codec_from_env
from execbatch.venue.adapters.paper import PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from tests.security.batches import MARKER_SYMBOLS
from tests.security.stack import DevServer, SecretSet


@pytest.fixture(scope="session")
def secret_set() -> SecretSet:
    return SecretSet.generate()


@pytest.fixture(scope="session")
def codec(secret_set: SecretSet) -> EncryptionCodec:
    found = codec_from_env(secret_set.env())
    assert found is not None
    return found


@pytest.fixture(scope="session")
def security_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("security-logs")


@pytest.fixture(scope="session")
def dev_server(security_logs: Path) -> Iterator[DevServer]:
    """A dev server with the Web UI and no codec endpoint (the UI shows ciphertext)."""
    with DevServer(security_logs / "dev-server.log") as server:
        yield server


@pytest.fixture(scope="session")
def signed_venue(secret_set: SecretSet) -> Iterator[VenueProcess]:
    """A venue requiring signed requests, with the marker symbols priced."""
    with VenueProcess(env=secret_set.env()) as venue:
        yield venue


@pytest.fixture(scope="session")
async def priced_venue(signed_venue: VenueProcess, secret_set: SecretSet) -> VenueProcess:
    async with PaperVenueAdmin(signed_venue.base_url, admin_key=secret_set.venue_admin_key) as a:
        await a.set_prices(MARKER_SYMBOLS)
    return signed_venue


@pytest.fixture(scope="session")
async def codec_client(dev_server: DevServer, codec: EncryptionCodec) -> AsyncIterator[Client]:
    """A client connected through ``connect`` with the codec: what the worker uses."""
    config = ExecbatchConfig(temporal={"target_host": dev_server.address})
    yield await connect(config, codec)


@pytest.fixture(scope="session")
async def plain_client(dev_server: DevServer) -> Client:
    """A client without codec: sees what anyone with server access sees."""
    return await Client.connect(dev_server.address)
