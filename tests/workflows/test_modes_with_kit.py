"""One test per mode, written with the testing kit against the real venue process."""

from pathlib import Path

from execbatch.core.enums import BatchStatus, LegStatus
from execbatch.testing import BatchTestKit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def test_independent_rejected_leg_leaves_the_others_filled(batch_kit: BatchTestKit) -> None:
    document = batch_kit.load(EXAMPLES / "flash_crash_close.json")
    await batch_kit.script.reject(document=document, leg=2, error="UNKNOWN_SYMBOL")
    result = await batch_kit.run(document)
    assert result.status is BatchStatus.PARTIALLY_COMPLETED
    assert [leg.status for leg in result.legs] == [
        LegStatus.FILLED,
        LegStatus.REJECTED,
        LegStatus.FILLED,
    ]
    assert await batch_kit.positions() == {"AAPL": -50, "TSLA": -30}


async def test_coordinated_rejected_leg_is_compensated(batch_kit: BatchTestKit) -> None:
    document = batch_kit.load(EXAMPLES / "pair_trade.json")
    await batch_kit.script.reject(document=document, leg=2)
    result = await batch_kit.run(document)
    assert result.status is BatchStatus.COMPENSATED
    assert [leg.status for leg in result.legs] == [LegStatus.COMPENSATED, LegStatus.REJECTED]
    assert await batch_kit.net("AAPL") == 0
    assert await batch_kit.net("MSFT") == 0


async def test_sequential_stops_at_the_first_leg_that_does_not_fill(
    batch_kit: BatchTestKit,
) -> None:
    document = batch_kit.load(EXAMPLES / "rotation.json")
    await batch_kit.script.reject(document=document, leg=1, error="INVALID_ORDER")
    result = await batch_kit.run(document)
    assert result.status is BatchStatus.STOPPED
    assert [leg.status for leg in result.legs] == [LegStatus.REJECTED, LegStatus.SKIPPED]
    assert await batch_kit.orders(symbol="QQQ") == []  # leg 2 never placed
