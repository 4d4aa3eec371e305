"""Dataclass payloads of the naive workflow (the samples' ``shared.py``)."""

from __future__ import annotations

from dataclasses import dataclass

WORKFLOW_NAME = "NaiveBatchWorkflow"


@dataclass
class NaiveLeg:
    client_order_id: str
    account: str
    symbol: str
    side: str
    quantity: str


@dataclass
class NaiveBatch:
    batch_id: str
    mode: str
    legs: list[NaiveLeg]


@dataclass
class NaiveResult:
    batch_id: str
    statuses: list[str]
