"""``pytest --trainspec-mutate``: run every spec applied to a pair on the mutants of the pair's
fixed recipe, and measure which mutants each spec kills.

A mutant is *killed* when the spec fails (or crashes) on it, *survives* when the spec passes,
is *equivalent* when it records exactly the loss curve of the original (the fault changed
nothing observable: not counted against the suite), *n/a* when the operator does not apply,
and an *error* when the mutant itself could not be trained.

Mutant items are a measurement: they are marked ``xfail(strict=False)``, so a killed mutant
shows as ``x``, a survivor as ``X``, and neither changes the session's exit status.  Their
results travel as ``SpecResult(kind="mutant")`` (so they work under pytest-xdist and appear in
the JSON with a ``mutant`` object) and the report adds the spec-strength table.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
from rich import box
from rich.table import Table
from rich.text import Text

from trainspec.constants import MutantStatus, Outcome
from trainspec.pairs import Pair, Target

KIND = "mutant"
PREFIX = "mutant_"

_STYLE = {
    MutantStatus.KILLED: ("✔ killed", "green"),
    MutantStatus.SURVIVED: ("✘ survived", "bold red"),
    MutantStatus.EQUIVALENT: ("≡ equivalent", "dim"),
    MutantStatus.NOT_APPLICABLE: ("n/a", "dim"),
    MutantStatus.ERROR: ("! error", "magenta"),
}


def _factory(pair: Pair, operator_name: str) -> Any:
    def make() -> Any:
        from trainspec import mutants

        mutant = mutants.apply(operator_name, pair.recipe("fixed"))
        if mutant.recipe is None:
            pytest.skip(f"mutant {operator_name} does not apply to {pair.name!r}: {mutant.skipped}")
        return mutant.recipe

    return make


def mutant_targets(items: Iterable[Any]) -> list[Target]:
    """One target per (pair, operator) for the pairs among ``items`` (recipes and sweeps have
    no fixed recipe to mutate)."""
    from trainspec.mutants import OPERATORS  # no TensorFlow: operators import it when applied

    out = []
    for item in _flatten(items):
        if isinstance(item, Pair):
            for op in OPERATORS:
                out.append(Target(KIND, item.name, f"{PREFIX}{op.name}", _factory(item, op.name),
                                  item))
    return out


def _flatten(items: Iterable[Any]) -> list[Any]:
    flat: list[Any] = []
    for item in items:
        if isinstance(item, (list, tuple)):
            flat.extend(item)
        else:
            flat.append(item)
    return flat


def marks(target: Target, xdist: bool) -> list[Any]:
    """Mutant items never fail the session; under xdist they share the fixed run's worker."""
    out: list[Any] = [pytest.mark.xfail(strict=False, reason=f"mutation test ({target.variant})")]
    if xdist:
        out.append(pytest.mark.xdist_group(f"trainspec:{target.group}-fixed"))
    return out


def info(target: Target, runs: list[Any], outcome: Outcome) -> dict[str, Any]:
    """The ``mutant`` object of a mutant item's result."""
    from trainspec.mutants import get

    op = get(target.variant.removeprefix(PREFIX))
    entry: dict[str, Any] = {"operator": op.name, "family": op.family, "models": op.models,
                             "equivalent": False}
    if runs:
        from trainspec import train

        original = train(target.owner.recipe("fixed"))
        mutant = runs[0]
        entry["equivalent"] = bool(
            mutant.fingerprint == original.fingerprint
            or (len(mutant.loss) == len(original.loss) and mutant.finite == original.finite
                and np.array_equal(np.asarray(mutant.loss), np.asarray(original.loss)))
        )
    entry["status"] = status(outcome, bool(runs), entry["equivalent"]).value
    return entry


def status(outcome: Outcome, trained: bool, equivalent: bool) -> MutantStatus:
    if outcome is Outcome.SKIPPED:
        return MutantStatus.NOT_APPLICABLE
    if equivalent:
        return MutantStatus.EQUIVALENT
    if outcome is Outcome.PASSED:
        return MutantStatus.SURVIVED
    if outcome is Outcome.FAILED or (outcome is Outcome.ERROR and trained):
        return MutantStatus.KILLED
    return MutantStatus.ERROR


# -- the report --------------------------------------------------------------------------------


def _status(result: Any) -> MutantStatus:
    return MutantStatus((result.mutant or {}).get("status", MutantStatus.ERROR.value))


def tables(results: list[Any]) -> list[Any]:
    """The spec-strength table (mutants x specs), the score per spec file, and the survivors."""
    if not results:
        return []
    from trainspec.report import _spec_names

    specs = list(OrderedDict.fromkeys(r.spec for r in results))
    names = _spec_names(specs)
    rows: dict[tuple[str, str], dict[str, Any]] = OrderedDict()
    for r in results:
        rows.setdefault((r.group or "", r.variant or ""), {})[r.spec] = r
    table = Table(title="Mutants x specs (spec strength)", box=box.SIMPLE_HEAVY,
                  title_justify="left")
    table.add_column("pair", style="bold")
    table.add_column("mutant")
    for spec in specs:
        table.add_column(names[spec], justify="center", overflow="fold")
    table.add_column("killed by", justify="right")
    survivors = []
    for (pair, variant), by_spec in rows.items():
        row: list[Any] = [pair, variant.removeprefix(PREFIX)]
        statuses = []
        for spec in specs:
            r = by_spec.get(spec)
            if r is None:
                row.append("")
                continue
            st = _status(r)
            statuses.append(st)
            label, style = _STYLE[st]
            row.append(Text(label, style=style))
        killers = sum(s is MutantStatus.KILLED for s in statuses)
        counted = [s for s in statuses if s in (MutantStatus.KILLED, MutantStatus.SURVIVED)]
        if counted and not killers:
            survivors.append(f"{pair}/{variant.removeprefix(PREFIX)}")
        cell = f"{killers}/{len(counted)}" if counted else "—"
        row.append(Text(cell, style="green" if killers else ("bold red" if counted else "dim")))
        table.add_row(*row)

    # mutation score per spec file: a mutant counts once per file, killed if any spec kills it
    files: dict[str, dict[tuple[str, str], set[MutantStatus]]] = OrderedDict()
    for r in results:
        file = r.spec.split("::", 1)[0]
        files.setdefault(file, {}).setdefault((r.group or "", r.variant or ""), set()).add(
            _status(r)
        )
    scores = Table(title="Mutation score per spec file", box=box.SIMPLE_HEAVY,
                   title_justify="left")
    for col in ("spec file", "killed", "survived", "equivalent", "n/a", "score"):
        scores.add_column(col, justify="left" if col == "spec file" else "right")
    for file, mutants in files.items():
        killed = sum(MutantStatus.KILLED in s for s in mutants.values())
        survived = sum(
            MutantStatus.SURVIVED in s and MutantStatus.KILLED not in s for s in mutants.values()
        )
        equivalent = sum(s == {MutantStatus.EQUIVALENT} for s in mutants.values())
        na = sum(s == {MutantStatus.NOT_APPLICABLE} for s in mutants.values())
        total = killed + survived
        score = f"{killed / total:.0%}" if total else "—"
        scores.add_row(file, str(killed), str(survived), str(equivalent), str(na),
                       Text(score, style="green" if total and killed == total else "bold"))
    out: list[Any] = [table, scores]
    if survivors:
        out.append(Text(f"{len(survivors)} mutant(s) no spec kills: " + ", ".join(survivors) +
                        ". Add a spec asserting the symptom each one causes.", style="bold red"))
    else:
        out.append(Text("Every applicable, non-equivalent mutant is killed by some spec.",
                        style="green"))
    return out
