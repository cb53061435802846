"""Spec results, verdicts per (spec, pair), and the ``--trainspec-json`` document.

A :class:`SpecResult` is JSON-able: it travels from pytest-xdist workers as an attribute of the
test report (``report.trainspec``) and is collected by :class:`ResultBook` on the controller.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from trainspec.constants import JSON_SCHEMA_NAME, JSON_SCHEMA_VERSION, Outcome, Variant, Verdict
from trainspec.environment import environment, json_safe, write_atomic

PROPERTY = "trainspec"


@dataclass
class SpecResult:
    """What one spec did on one run (one pytest item)."""

    nodeid: str
    spec: str
    kind: str  # "pair", "sweep", "recipe", "mutant" or "plain" (a test without a pair/sweep)
    group: str | None
    variant: str | None
    outcome: str  # Outcome: what the spec did on this run, before broken/fixed expectations
    message: str | None = None
    details: dict[str, Any] | None = None
    seed: int | None = None
    summary: dict[str, Any] | None = None
    wall_time: float | None = None
    from_cache: bool | None = None
    fingerprint: str | None = None
    label: str | None = None
    loss_curve: list[float | None] | None = None
    cause: str | None = None
    fix: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    mutant: dict[str, Any] | None = None  # kind "mutant": operator, family, status, equivalent
    runs: list[dict[str, Any]] = field(default_factory=list)
    duration: float | None = None
    #: the doctor's primary finding (one of ``findings``), None when healthy or not diagnosed
    primary: dict[str, Any] | None = None
    #: the run's curves by name (loss, metrics, val_*, grad_norm/<layer>): downsampled
    #: ``points``, first and last ``steps``, and the series' ``change`` (see Series.change)
    curves: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the test takes a ``run`` or trains runs (a spec); other tests are in the JSON only
    uses_run: bool = True
    #: a test that is not a pair's broken variant and failed as its xfail mark expected
    expected_failure: bool = False
    #: where the test function is: path relative to the rootdir and 1-based line
    file: str | None = None
    line: int | None = None
    alias: str | None = None  # the pair's name in the course material (e.g. "Fail1")
    columns: dict[str, Any] | None = None  # a sweep point's settings as its table shows them

    @property
    def verdict_role(self) -> Variant | None:
        if self.kind == "pair" and self.variant in (Variant.BROKEN.value, Variant.FIXED.value):
            return Variant(self.variant)
        return None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SpecResult:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class PairVerdict:
    """The verdict of one spec on one pair, from its broken and fixed results."""

    spec: str
    pair: str
    verdict: Verdict
    broken: SpecResult | None
    fixed: SpecResult | None


def verdict_of(broken: SpecResult | None, fixed: SpecResult | None) -> Verdict:
    """Caught iff broken failed and fixed passed; errors first, then false alarms, then misses.

    Example:
        >>> from trainspec.plugin.results import SpecResult, verdict_of
        >>> b = SpecResult("t[p-broken]", "t", "pair", "p", "broken", "failed")
        >>> f = SpecResult("t[p-fixed]", "t", "pair", "p", "fixed", "passed")
        >>> str(verdict_of(b, f))
        'caught'
    """
    if broken is None or fixed is None:
        present = broken or fixed
        if present is not None and present.outcome == Outcome.ERROR.value:
            return Verdict.ERROR
        return Verdict.INCOMPLETE
    outcomes = {broken.outcome, fixed.outcome}
    if Outcome.ERROR.value in outcomes:
        return Verdict.ERROR
    if Outcome.SKIPPED.value in outcomes:
        return Verdict.INCOMPLETE
    if fixed.outcome == Outcome.FAILED.value:
        return Verdict.FALSE_ALARM
    if broken.outcome == Outcome.PASSED.value:
        return Verdict.MISSED
    return Verdict.CAUGHT


class ResultBook:
    """All results of a session, in arrival order, plus collection errors."""

    def __init__(self) -> None:
        self.results: list[SpecResult] = []
        self.collection_errors: list[dict[str, str]] = []
        #: every run of the session by fingerprint: True when it came from the disk cache
        self.runs: dict[str, bool] = {}
        #: the disk cache's mode, folder and counts (None when the plugin did not set it)
        self.cache: dict[str, Any] | None = None

    def sort(self, order: dict[str, int]) -> None:
        """Put results in collection order (as reports arrive in any order under xdist)."""
        last = len(order)
        self.results.sort(key=lambda r: order.get(r.nodeid, last))

    def run_counts(self) -> dict[str, int]:
        """Distinct runs of the session: how many trained and how many came from the cache."""
        cached = sum(self.runs.values())
        return {"total": len(self.runs), "trained": len(self.runs) - cached, "from_cache": cached}

    def add(self, result: SpecResult) -> None:
        self.results.append(result)

    def add_collection_error(self, nodeid: str, message: str) -> None:
        self.collection_errors.append({"nodeid": nodeid, "message": message})

    def pair_verdicts(self) -> list[PairVerdict]:
        sides: dict[tuple[str, str], dict[str, SpecResult]] = defaultdict(dict)
        for r in self.results:
            if r.verdict_role is not None and r.group is not None:
                sides[(r.spec, r.group)][r.variant or ""] = r
        return [
            PairVerdict(spec, pair, verdict_of(v.get("broken"), v.get("fixed")),
                        v.get("broken"), v.get("fixed"))
            for (spec, pair), v in sides.items()
        ]

    def by_kind(self, kind: str) -> list[SpecResult]:
        return [r for r in self.results if r.kind == kind]

    def specs(self) -> list[SpecResult]:
        """The results of specs (tests that take a ``run``), which the report shows."""
        return [r for r in self.results if r.uses_run]

    def to_document(self, exitstatus: int | None = None) -> dict[str, Any]:
        """The ``--trainspec-json`` document (schema documented in the README)."""
        verdicts = {(v.spec, v.pair): v.verdict.value for v in self.pair_verdicts()}
        results = []
        for r in self.results:
            entry = {
                "nodeid": r.nodeid,
                "spec": r.spec,
                "kind": r.kind,
                "pair": r.group if r.kind == "pair" else None,
                "group": r.group,
                "variant": r.variant,
                "outcome": r.outcome,
                "verdict": verdicts.get((r.spec, r.group)) if r.kind == "pair" else None,
                "message": r.message,
                "details": r.details,
                "seed": r.seed,
                "summary": r.summary,
                "wall_time": r.wall_time,
                "from_cache": r.from_cache,
                "fingerprint": r.fingerprint,
                "findings": r.findings,
                "mutant": r.mutant,
                "runs": r.runs,
                "duration": r.duration,
                "file": r.file,
                "line": r.line,
                "expected_failure": r.expected_failure,
            }
            results.append(entry)
        return {
            "schema": JSON_SCHEMA_NAME,
            "version": JSON_SCHEMA_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "environment": environment(),
            "exitstatus": exitstatus,
            "results": results,
            "verdicts": [
                {
                    "spec": v.spec,
                    "pair": v.pair,
                    "verdict": v.verdict.value,
                    "broken_outcome": v.broken.outcome if v.broken else None,
                    "fixed_outcome": v.fixed.outcome if v.fixed else None,
                }
                for v in self.pair_verdicts()
            ],
            "collection_errors": self.collection_errors,
            "runs": self.run_counts(),
            "cache": self.cache,
        }



def write_json(book: ResultBook, path: str | os.PathLike[str], exitstatus: int | None) -> None:
    """Write the results document to ``path`` atomically."""
    document = json_safe(book.to_document(exitstatus))
    write_atomic(path, json.dumps(document, indent=2, allow_nan=False) + "\n")
