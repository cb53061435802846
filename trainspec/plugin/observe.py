"""What the plugin observes about each spec item: its target, the runs it trained, and what
the spec did on them, turned into a JSON-able :class:`~trainspec.plugin.results.SpecResult`."""

from __future__ import annotations

from typing import Any

import pytest

from trainspec.constants import Outcome
from trainspec.exceptions import SpecFailure, TrainspecError
from trainspec.pairs import Target
from trainspec.plugin.keys import RUNS_KEY, TARGET_KEY
from trainspec.plugin.results import SpecResult


def plain_nodeid(nodeid: str) -> str:
    """The node id without the ``@group`` suffix pytest-xdist adds under ``--dist loadgroup``
    (an ``@`` after the last ``::`` and ``]``), so results match a run without xdist."""
    at = nodeid.rfind("@")
    return nodeid[:at] if at > max(nodeid.rfind("]"), nodeid.rfind("::")) else nodeid


def spec_id(item: pytest.Item) -> str:
    """The node id without parameters: one id per spec function."""
    return plain_nodeid(item.nodeid).split("[", 1)[0]


def outcome_of(excinfo: pytest.ExceptionInfo[BaseException] | None) -> Outcome:
    """What the spec did on its run, before any broken/fixed expectation is applied."""
    if excinfo is None:
        return Outcome.PASSED
    if excinfo.errisinstance(pytest.skip.Exception):
        return Outcome.SKIPPED
    if excinfo.errisinstance(AssertionError):
        return Outcome.FAILED
    return Outcome.ERROR


def message_of(excinfo: pytest.ExceptionInfo[BaseException] | None) -> str | None:
    if excinfo is None:
        return None
    exc = excinfo.value
    if isinstance(exc, (TrainspecError, SpecFailure)):
        return str(exc)
    if isinstance(exc, AssertionError):
        text = str(exc).strip()
        return text or "assertion failed"
    return f"{type(exc).__name__}: {exc}"


def _findings(run: Any) -> list[dict[str, Any]]:
    try:
        from trainspec.doctor import diagnose
    except ImportError:
        return []
    try:
        return [finding.to_json() for finding in diagnose(run).findings]
    except Exception:  # a diagnosis must never hide the spec's own result
        return []


def _run_entry(run: Any) -> dict[str, Any]:
    return {
        "label": run.label,
        "seed": run.seed,
        "fingerprint": run.fingerprint,
        "wall_time": run.wall_time,
        "from_cache": run.from_cache,
        "summary": run.summary(),
    }


def build_result(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException] | None,
                 duration: float | None) -> SpecResult:
    """The spec's result on its run(s) for this item."""
    from trainspec.expect import curve_points

    target: Target | None = item.stash.get(TARGET_KEY, None)
    runs = item.stash.get(RUNS_KEY, [])
    outcome = outcome_of(excinfo)
    result = SpecResult(
        nodeid=plain_nodeid(item.nodeid),
        spec=spec_id(item),
        kind=target.kind if target else "plain",
        group=target.group if target else None,
        variant=target.variant if target else None,
        outcome=outcome.value,
        message=message_of(excinfo),
        details=getattr(excinfo.value, "details", None) if excinfo else None,
        duration=duration,
    )
    owner = target.owner if target else None
    if owner is not None and target is not None and target.kind == "pair":
        result.cause = owner.cause or None
        result.fix = owner.fix or None
    if runs:
        primary = runs[0]
        result.seed = primary.seed
        result.summary = primary.summary()
        result.wall_time = primary.wall_time
        result.from_cache = primary.from_cache
        result.fingerprint = primary.fingerprint
        result.label = primary.label
        result.loss_curve = curve_points(primary.loss)
        result.runs = [_run_entry(r) for r in runs]
        if outcome in (Outcome.FAILED, Outcome.ERROR) or (
            target is not None and target.variant == "broken"
        ):
            result.findings = _findings(primary)
    if target is not None and target.kind == "mutant":
        from trainspec.plugin.mutation import info

        result.mutant = info(target, runs, outcome)
    return result
