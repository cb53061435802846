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


def _findings(run: Any, target: Target | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The doctor's findings on ``run``, the primary cause first, and the primary one; with the
    target's recipe, so the static checks (output activation vs loss, preprocessing...) are shown
    too."""
    try:
        from trainspec.doctor import diagnose
    except ImportError:
        return [], None
    try:
        recipe = target.recipe() if target is not None else None
    except Exception:  # the spec's own error says why the recipe cannot be built
        recipe = None
    try:
        diagnosis = diagnose(run, recipe)
        findings = list(diagnosis.findings)
        primary = getattr(diagnosis, "primary", None) or (findings[0] if findings else None)
        return [f.to_json() for f in findings], primary.to_json() if primary else None
    except Exception:  # a diagnosis must never hide the spec's own result
        return [], None


#: Points per curve carried to the report (loss) and the HTML charts (every curve).
_LOSS_POINTS = 200
_CHART_POINTS = 100


def curves_of(run: Any) -> dict[str, dict[str, Any]]:
    """The run's curves for reports: loss, metrics, validation history and every layer's
    gradient norm, each downsampled (``points``), with its first and last step and its
    :meth:`~trainspec.Series.change`."""
    from trainspec.expect import curve_points

    series = [("loss", run.loss, _LOSS_POINTS)]
    series += [(name, s, _CHART_POINTS) for name, s in run.metrics.items()]
    series += [(name, s, _CHART_POINTS) for name, s in run.val_history.items()]
    series += [(f"grad_norm/{layer.name}", layer.grad_norm, _CHART_POINTS)
               for layer in run.layers.list()]
    out: dict[str, dict[str, Any]] = {}
    for name, s, points in series:
        if not len(s):
            continue
        out[name] = {"points": curve_points(s, points),
                     "steps": [int(s.steps[0]), int(s.steps[-1])],
                     "change": s.change().to_json()}
    return out


def _run_entry(run: Any) -> dict[str, Any]:
    from trainspec.baseline import series_of

    series = series_of(run, "all")
    return {
        "label": run.label,
        "seed": run.seed,
        "fingerprint": run.fingerprint,
        "wall_time": run.wall_time,
        "from_cache": run.from_cache,
        "summary": run.summary(),
        # every recorded step of loss, metrics, per-layer gradient norms and validation, for
        # ``trainspec diff`` (steps listed for the validation series only: the others are 0..n-1)
        "series": {name: values.tolist() for name, (_, values) in series.items()},
        "series_steps": {name: steps.tolist() for name, (steps, _) in series.items()
                         if name.startswith("val:")},
    }


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


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
        # a spec takes a run, or trains runs itself (comparisons across a sweep's points)
        uses_run=target is not None or "run" in getattr(item, "fixturenames", ()) or bool(runs),
    )
    path, line, _ = item.location
    result.file, result.line = path, (line + 1 if line is not None else None)
    owner = target.owner if target else None
    if owner is not None and target is not None and target.kind == "pair":
        result.cause = owner.cause or None
        result.fix = owner.fix or None
        result.alias = getattr(owner, "alias", None) or None
    if owner is not None and target is not None and target.kind == "sweep":
        row = (getattr(owner, "columns", None) or {}).get(target.variant)
        result.columns = {k: _jsonable(v) for k, v in row.items()} if row else None
    if runs:
        primary = runs[0]
        result.seed = primary.seed
        result.summary = primary.summary()
        result.wall_time = primary.wall_time
        result.from_cache = primary.from_cache
        result.fingerprint = primary.fingerprint
        result.label = primary.label
        result.curves = curves_of(primary)
        result.loss_curve = result.curves.get("loss", {}).get("points") or curve_points(
            primary.loss)
        result.runs = [_run_entry(r) for r in runs]
        if outcome in (Outcome.FAILED, Outcome.ERROR) or (
            target is not None and target.variant == "broken"
        ):
            result.findings, result.primary = _findings(primary, target)
    if target is not None and target.kind == "mutant":
        from trainspec.plugin.mutation import info

        result.mutant = info(target, runs, outcome)
    return result
