"""``BatchClient.connect()``: the CLI's environment, and one exception when Temporal is
not there."""

from __future__ import annotations

import pytest

from execbatch.client import BatchClient, EmbeddedExecutor, ExecbatchConfig, TemporalUnreachable

UNREACHABLE = "127.0.0.1:1"
LINE = (
    f"cannot reach Temporal at {UNREACHABLE} (namespace desks): connection refused. "
    "Is `execbatch dev` running, or TEMPORAL_ADDRESS set?"
)


async def test_connect_reads_the_environment_and_fails_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", UNREACHABLE)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "desks")

    with pytest.raises(TemporalUnreachable) as caught:
        await BatchClient.connect()

    assert str(caught.value) == LINE
    assert (caught.value.address, caught.value.namespace) == (UNREACHABLE, "desks")


async def test_embedded_executor_connect_fails_the_same_way() -> None:
    config = ExecbatchConfig(temporal={"target_host": UNREACHABLE, "namespace": "desks"})

    with pytest.raises(TemporalUnreachable) as caught:
        await EmbeddedExecutor.connect(config)

    assert str(caught.value) == LINE


async def test_an_empty_account_is_refused_before_connecting() -> None:
    config = ExecbatchConfig(temporal={"target_host": UNREACHABLE})

    with pytest.raises(ValueError, match="account"):
        await BatchClient.connect(config, account=" ")
