"""A typo'd symbol in a COORDINATED pair on the paper venue: refused before anything is
placed, through a real worker against the real venue process, and ``venue-check``
says so first."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from execbatch.core.enums import BatchStatus, LegStatus
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.testing import BatchTestKit
from tests.cli.conftest import clean_env, execbatch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def with_typo(document: DirectiveDocument) -> DirectiveDocument:
    """The pair trade with leg c2's MSFT typed APPL (the user's report)."""
    first, second = document.commands
    return document.model_copy(
        update={"commands": (first, second.model_copy(update={"symbol": "APPL"}))}
    )


@pytest.fixture(scope="module")
async def kit() -> AsyncIterator[BatchTestKit]:
    async with BatchTestKit.start() as started:
        yield started


async def test_a_typo_in_a_coordinated_pair_places_nothing(kit: BatchTestKit) -> None:
    document = with_typo(kit.load(EXAMPLES / "pair_trade.json"))
    assert document.directive.execution_policy.mode.value == "COORDINATED"
    assert (await kit.orders(), await kit.positions()) == ([], {})

    result = await kit.run(document)

    assert (await kit.orders(), await kit.positions()) == ([], {})  # nothing placed
    assert result.status is BatchStatus.COMPENSATED
    assert [leg.status for leg in result.legs] == [LegStatus.SKIPPED, LegStatus.REJECTED]
    assert "APPL is not an instrument paper knows" in (result.legs[1].error or "")
    assert "leg c2" in (result.reason or "")
    # the same pair without the typo trades
    fixed = await kit.run(kit.load(EXAMPLES / "pair_trade.json"))
    assert fixed.status is BatchStatus.COMPLETED


def test_venue_check_says_the_typo_does_not_fit(kit: BatchTestKit, tmp_path: Path) -> None:
    document = with_typo(DirectiveDocument.from_file(EXAMPLES / "pair_trade.json"))
    path = tmp_path / "typo.json"
    path.write_text(document.to_json(), encoding="utf-8")
    env = clean_env(
        EXECBATCH_VENUE="paper",
        EXECBATCH_VENUE_URL=kit.environment.venue_url,
        EXECBATCH_VENUE_ACCOUNT=kit.account,
    )
    run = execbatch("venue-check", str(path), env=env)
    assert run.code == 1, run.stdout + run.stderr
    assert "ok   leg c1: BUY 100 AAPL: fits the venue's rules" in run.stdout
    assert "FAIL leg c2: SELL 46 APPL: APPL is not an instrument paper knows" in run.stdout
    # and the file as shipped fits
    path.write_text(json.dumps(json.loads((EXAMPLES / "pair_trade.json").read_text())))
    assert execbatch("venue-check", str(path), env=env).code == 0
