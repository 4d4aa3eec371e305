"""Risk limits: loaded from a file and the environment, refused at start when invalid."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from execbatch.risk.limits import RiskConfigError, load_limits, throttle_task_queue


def write(tmp_path: Path, data: object, name: str = "limits.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if name.endswith(".json") else str(data))
    return path


def test_file_limits_with_account_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "default": {"max_order_notional": "5000", "max_orders_per_second": 10},
            "accounts": {"pairs": {"max_position": "100", "refused_symbols": ["GME"]}},
        },
    )
    limits = load_limits({"EXECBATCH_RISK_LIMITS_FILE": str(path)})
    pairs = limits.for_account("pairs")
    assert pairs.max_order_notional == Decimal("5000")  # inherited from the default
    assert pairs.max_position == Decimal("100")
    assert pairs.refused_symbols == frozenset({"GME"})
    assert limits.for_account("other").max_position is None
    # Each listed account is paced on its own queue; the others share the default's.
    assert throttle_task_queue("tq", "pairs", limits) == "tq:placements:pairs"
    assert throttle_task_queue("tq", "other", limits) == "tq:placements:*"


def test_toml_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[default]\nmax_batch_notional = "1e6"\n', "limits.toml")
    limits = load_limits({"EXECBATCH_RISK_LIMITS_FILE": str(path)})
    assert limits.default.max_batch_notional == Decimal("1e6")


@pytest.mark.parametrize("value", [0, -1, "0", "-5.5"])
def test_zero_or_negative_limit_is_refused_naming_file_and_field(
    tmp_path: Path, value: object
) -> None:
    path = write(tmp_path, {"accounts": {"pairs": {"max_order_notional": value}}})
    with pytest.raises(RiskConfigError) as exc:
        load_limits({"EXECBATCH_RISK_LIMITS_FILE": str(path)})
    assert str(path) in str(exc.value)
    assert "accounts.pairs.max_order_notional" in str(exc.value)
    assert "greater than 0" in str(exc.value)


def test_unknown_field_and_bad_json_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, {"default": {"max_notional": "5"}})
    with pytest.raises(RiskConfigError, match=r"field default\.max_notional: Extra inputs"):
        load_limits({"EXECBATCH_RISK_LIMITS_FILE": str(path)})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(RiskConfigError, match=r"broken\.json: not valid JSON"):
        load_limits({"EXECBATCH_RISK_LIMITS_FILE": str(broken)})
    with pytest.raises(RiskConfigError, match="cannot read"):
        load_limits({"EXECBATCH_RISK_LIMITS_FILE": str(tmp_path / "missing.json")})


def test_environment_sets_the_default_and_is_validated() -> None:
    limits = load_limits(
        {"EXECBATCH_RISK_MAX_POSITION": "50", "EXECBATCH_RISK_ALLOWED_SYMBOLS": "AAPL, MSFT"}
    )
    assert limits.default.max_position == Decimal("50")
    assert limits.default.allowed_symbols == frozenset({"AAPL", "MSFT"})
    with pytest.raises(RiskConfigError, match="EXECBATCH_RISK_MAX_ORDERS_PER_SECOND"):
        load_limits({"EXECBATCH_RISK_MAX_ORDERS_PER_SECOND": "0"})
    assert load_limits({}).default.max_order_notional is None


def test_worker_refuses_a_bad_limits_file_at_start(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from execbatch.cli.app import app

    path = write(tmp_path, {"default": {"max_position": -3}})
    result = CliRunner().invoke(app, ["worker"], env={"EXECBATCH_RISK_LIMITS_FILE": str(path)})
    assert result.exit_code == 1
    assert str(path) in result.output
    assert "default.max_position" in result.output
