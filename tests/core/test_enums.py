"""ADR 2.3 / checklist item 1: BatchExecutionMode in backend/core/enums.py."""

from __future__ import annotations

import json
from enum import Enum

import pytest
from pydantic import TypeAdapter, ValidationError

from execbatch.core import enums
from execbatch.core.enums import BatchExecutionMode


def test_lives_in_backend_core_enums() -> None:
    assert BatchExecutionMode.__module__ == "execbatch.core.enums"
    assert enums.BatchExecutionMode is BatchExecutionMode


def test_has_exactly_the_three_modes_as_str_enum() -> None:
    assert issubclass(BatchExecutionMode, str)
    assert issubclass(BatchExecutionMode, Enum)
    assert {m.name: m.value for m in BatchExecutionMode} == {
        "INDEPENDENT": "INDEPENDENT",
        "COORDINATED": "COORDINATED",
        "SEQUENTIAL": "SEQUENTIAL",
    }
    assert BatchExecutionMode.COORDINATED == "COORDINATED"


@pytest.mark.parametrize(
    ("mode", "meaning", "use_case"),
    [
        ("INDEPENDENT", "ignore failures of others", "Flash crash close, DCA entries"),
        ("COORDINATED", "if one fails, cancel/revert others", "Pair trades, hedged positions"),
        ("SEQUENTIAL", "Fire one by one, stop if one fails", "Rotation strategies"),
    ],
)
def test_docstring_gives_each_mode_its_adr_meaning(mode: str, meaning: str, use_case: str) -> None:
    doc = " ".join((BatchExecutionMode.__doc__ or "").split())
    assert f"{mode}:" in doc
    section = doc.split(f"{mode}:", 1)[1]
    assert meaning in section.split("Use case:", 1)[0]
    assert use_case in section
    if mode == "INDEPENDENT":
        assert "(default)" in section.split("Use case:", 1)[0]


def test_serialises_as_plain_name() -> None:
    adapter = TypeAdapter(BatchExecutionMode)
    assert adapter.dump_json(BatchExecutionMode.SEQUENTIAL) == b'"SEQUENTIAL"'
    assert json.loads(adapter.dump_json(BatchExecutionMode.INDEPENDENT)) == "INDEPENDENT"


@pytest.mark.parametrize("value", ["independent", "PARALLEL", "", "COORDINATED ", 1, None])
def test_unknown_values_are_rejected(value: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        TypeAdapter(BatchExecutionMode).validate_python(value)
    assert excinfo.value.errors()[0]["type"] == "enum"
    assert "'INDEPENDENT', 'COORDINATED' or 'SEQUENTIAL'" in excinfo.value.errors()[0]["msg"]
