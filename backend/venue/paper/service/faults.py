"""Fault injection: rules that make the paper venue misbehave on purpose.

Rules live in memory only: a restart of the venue clears them. That is
deliberate: a fault scenario belongs to one test run, and a venue that came
back from a crash still injecting yesterday's faults would be surprising.

Determinism: every rule owns a ``random.Random``, seeded with the rule's own
``seed`` or, if absent, with one derived from the venue's ``--fault-seed`` and
the rule id. A rule's probability is rolled only when its filters match, so
the same sequence of requests gives the same sequence of faults on every run
(with concurrent requests, "sequence" means the order the venue received them).

Evaluation happens in two stages, each taking the rules in creation order:

* transport stage (before the request is handled): every firing ``latency``
  rule adds its delay; the first firing ``error_503`` or ``hang`` rule (or, for
  cancel/get, ``fail_after_place``) decides the outcome, later ones are not
  rolled;
* order stage (placement only, inside the store transaction, and only for a
  client order id that is new and passed validation): the first firing
  ``reject``, ``partial_fill`` or ``fail_after_place`` rule applies. A replay
  of an existing order is never faulted at this stage, so a retry after
  ``fail_after_place`` finds the order that was placed.

The injector is shared between the event loop (transport stage, admin API)
and the store thread (order stage), hence the lock.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from execbatch.core.enums import OrderSide
from execbatch.venue.paper.wire import FaultEndpoint, FaultKind, FaultRule, FaultRuleSpec

DEFAULT_HANG_SECONDS = Decimal(60)

PLACE_TRANSPORT_KINDS = frozenset({FaultKind.LATENCY, FaultKind.ERROR_503, FaultKind.HANG})
"""Kinds decided before a placement is handled."""

PLACE_ORDER_KINDS = frozenset(
    {FaultKind.REJECT, FaultKind.PARTIAL_FILL, FaultKind.FAIL_AFTER_PLACE}
)
"""Kinds decided inside the placement, for a new order only."""

OTHER_TRANSPORT_KINDS = frozenset(
    {FaultKind.LATENCY, FaultKind.ERROR_503, FaultKind.HANG, FaultKind.FAIL_AFTER_PLACE}
)
"""Kinds that apply to cancel and get (all of them are decided up front)."""


@dataclass(frozen=True)
class FaultTarget:
    """What a rule's filters are matched against."""

    endpoint: FaultEndpoint
    client_order_id: str
    symbol: str | None = None
    side: OrderSide | None = None


@dataclass(frozen=True)
class FaultDecision:
    """A rule that fired: what to do, with the rule's parameters."""

    rule_id: int
    kind: FaultKind
    error: str | None
    message: str | None
    delay_seconds: Decimal | None
    fraction: Decimal | None

    @property
    def hang_seconds(self) -> float:
        return float(self.delay_seconds if self.delay_seconds is not None else DEFAULT_HANG_SECONDS)


@dataclass(frozen=True)
class TransportFaults:
    """Outcome of the transport stage: added latency and, maybe, a failure."""

    latency_seconds: float
    decision: FaultDecision | None


@dataclass
class _Rule:
    id: int
    spec: FaultRuleSpec
    rng: random.Random
    hits: int = 0

    def exhausted(self) -> bool:
        return self.spec.max_hits is not None and self.hits >= self.spec.max_hits

    def matches(self, target: FaultTarget) -> bool:
        spec = self.spec
        if spec.endpoint is not target.endpoint or self.exhausted():
            return False
        if spec.symbol is not None and spec.symbol != target.symbol:
            return False
        if spec.side is not None and spec.side is not target.side:
            return False
        prefix = spec.client_order_id_prefix
        return prefix is None or target.client_order_id.startswith(prefix)

    def snapshot(self) -> FaultRule:
        return FaultRule(id=self.id, hits=self.hits, **self.spec.model_dump())


class FaultInjector:
    """Holds the fault rules, rolls them, and counts the faults that fired."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rules: list[_Rule] = []
        self._next_id = 1
        self._injected: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, spec: FaultRuleSpec) -> FaultRule:
        with self._lock:
            rule_id = self._next_id
            self._next_id += 1
            seed = spec.seed if spec.seed is not None else self._seed * 1_000_003 + rule_id
            rule = _Rule(id=rule_id, spec=spec, rng=random.Random(seed))
            self._rules.append(rule)
            return rule.snapshot()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [rule.snapshot() for rule in self._rules]

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [rule for rule in self._rules if rule.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> int:
        """Remove every rule (ids keep counting up, so old ids are never reused)."""
        with self._lock:
            removed = len(self._rules)
            self._rules = []
            return removed

    def injected(self) -> dict[str, int]:
        """Faults fired so far, per kind (every kind listed, zeros included)."""
        with self._lock:
            return {kind.value: self._injected[kind.value] for kind in FaultKind}

    def transport(self, target: FaultTarget) -> TransportFaults:
        """Roll the transport-stage rules for a request that just arrived."""
        kinds = (
            PLACE_TRANSPORT_KINDS
            if target.endpoint is FaultEndpoint.PLACE
            else OTHER_TRANSPORT_KINDS
        )
        with self._lock:
            latency = Decimal(0)
            for rule in self._rules:
                if rule.spec.kind is FaultKind.LATENCY and self._fires(rule, target):
                    latency += rule.spec.delay_seconds or Decimal(0)
            decision = self._first_firing(target, kinds - {FaultKind.LATENCY})
            return TransportFaults(latency_seconds=float(latency), decision=decision)

    def order_stage(self, target: FaultTarget) -> FaultDecision | None:
        """Roll the order-stage rules for a new, valid placement."""
        with self._lock:
            return self._first_firing(target, PLACE_ORDER_KINDS)

    def _first_firing(
        self, target: FaultTarget, kinds: frozenset[FaultKind]
    ) -> FaultDecision | None:
        for rule in self._rules:
            if rule.spec.kind in kinds and self._fires(rule, target):
                spec = rule.spec
                return FaultDecision(
                    rule_id=rule.id,
                    kind=spec.kind,
                    error=spec.error,
                    message=spec.message,
                    delay_seconds=spec.delay_seconds,
                    fraction=spec.fraction,
                )
        return None

    def _fires(self, rule: _Rule, target: FaultTarget) -> bool:
        """Filters match and the probability roll succeeds; counts the hit."""
        if not rule.matches(target):
            return False
        if rule.rng.random() >= float(rule.spec.probability):
            return False
        rule.hits += 1
        self._injected[rule.spec.kind.value] += 1
        return True
