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

Cost: every mutant is a training run.  By default each distinct fixed recipe gets
``trainspec_mutate_max`` (2) operators, sampled from the selected ones with a random generator
seeded by the recipe's name, so a session is reproducible and the same recipe always gets the
same mutants; every spec applied to the recipe's pairs shares each mutant's run (memoised by
fingerprint).  ``--trainspec-mutate-max=0`` runs every operator;
``--trainspec-mutate-operators=lr_x100,label_shuffle`` restricts the pool.  The report says
which operators ran on which recipe and how many were left out.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
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
#: Operators sampled per distinct fixed recipe unless ``trainspec_mutate_max`` says otherwise.
DEFAULT_MAX = 2

_STYLE = {
    MutantStatus.KILLED: ("✔ killed", "green"),
    MutantStatus.SURVIVED: ("✘ survived", "bold red"),
    MutantStatus.EQUIVALENT: ("≡ equivalent", "dim"),
    MutantStatus.NOT_APPLICABLE: ("n/a", "dim"),
    MutantStatus.ERROR: ("! error", "magenta"),
}


@dataclass(frozen=True)
class Selection:
    """Which operators may mutate a fixed recipe (``pool``) and how many of them each distinct
    fixed recipe gets (``max``; 0: all of them)."""

    pool: tuple[str, ...]
    max: int = DEFAULT_MAX

    def sample(self, key: str) -> tuple[str, ...]:
        """The operators for the fixed recipe named ``key``: the same on every run, worker and
        machine (``random.Random`` seeded by a string is), in the operators' order."""
        if self.max <= 0 or self.max >= len(self.pool):
            return self.pool
        chosen = set(random.Random(f"trainspec-mutate:{key}").sample(self.pool, self.max))
        return tuple(name for name in self.pool if name in chosen)

    def describe(self) -> dict[str, Any]:
        return {"pool": list(self.pool), "max": self.max}


SELECTION_KEY = pytest.StashKey[Selection]()
#: Mutants applied in this process, by (fixed recipe source, operator), and the fixed recipes'
#: runs: every spec applied to a mutant shares one mutant recipe (and, memoised, one run).
_APPLIED: dict[Any, tuple[Any, Any]] = {}
_ORIGINALS: dict[Any, tuple[Any, Any]] = {}


def _cached(cache: dict[Any, tuple[Any, Any]], key: Any, source: Any, make: Any) -> Any:
    """``make()`` once per ``source`` object (the key holds its id; the entry keeps the object,
    so an id reused by a later object is told apart)."""
    entry = cache.get(key)
    if entry is None or entry[0] is not source:
        entry = cache[key] = (source, make())
    return entry[1]


def parse_selection(operators: str | None, maximum: Any) -> Selection:
    """The selection given by ``trainspec_mutate_operators`` (comma-separated names or ``all``)
    and ``trainspec_mutate_max`` (an integer >= 0, or ``all``); a ``ValueError`` names a bad
    value."""
    from trainspec.mutants import OPERATORS  # no TensorFlow: operators import it when applied

    known = [op.name for op in OPERATORS]
    text = (operators or "all").strip()
    if text.lower() == "all":
        pool = tuple(known)
    else:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise ValueError(f"unknown mutation operator(s) {', '.join(unknown) or repr(text)}; known: "
                             f"{', '.join(known)} (or 'all')")
        pool = tuple(n for n in known if n in names)
    raw = str(maximum if maximum not in (None, "") else DEFAULT_MAX).strip().lower()
    try:
        count = 0 if raw == "all" else int(raw)
    except ValueError:
        raise ValueError(f"trainspec_mutate_max must be an integer >= 0 or 'all', got {raw!r}") from None
    if count < 0:
        raise ValueError(f"trainspec_mutate_max must be >= 0 (0: every operator), got {count}")
    return Selection(pool, count)


def configure(config: pytest.Config, operators: str | None, maximum: Any) -> None:
    """Validate the mutation options once per session (a ``pytest.UsageError`` when bad)."""
    try:
        config.stash[SELECTION_KEY] = parse_selection(operators, maximum)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def recipe_key(pair: Pair) -> str:
    """What identifies a pair's fixed recipe without building it: pairs sharing a fixed recipe
    share its sample of operators, and so (through the run memo) its mutant runs."""
    from trainspec.recipe import Recipe

    fixed = pair.fixed
    if isinstance(fixed, Recipe):
        return fixed.label
    return f"{getattr(fixed, '__module__', '')}.{getattr(fixed, '__qualname__', pair.name)}"


def _factory(pair: Pair, operator_name: str, selection: Selection, sampled: tuple[str, ...]) -> Any:
    def make() -> Any:
        from trainspec import mutants

        mutant = _cached(_APPLIED, (id(pair.fixed), operator_name), pair.fixed,
                         lambda: mutants.apply(operator_name, pair.recipe("fixed")))
        if mutant.recipe is None:
            pytest.skip(f"mutant {operator_name} does not apply to {pair.name!r}: {mutant.skipped}")
        return mutant.recipe

    make.selection = {**selection.describe(), "sampled": list(sampled),  # type: ignore[attr-defined]
                      "recipe": recipe_key(pair)}
    return make


def mutant_targets(items: Iterable[Any], selection: Selection | None = None) -> list[Target]:
    """One target per (pair, sampled operator) for the pairs among ``items`` (recipes and
    sweeps have no fixed recipe to mutate)."""
    if selection is None:
        selection = parse_selection(None, None)
    out = []
    for item in _flatten(items):
        if isinstance(item, Pair):
            sampled = selection.sample(recipe_key(item))
            for name in sampled:
                out.append(Target(KIND, item.name, f"{PREFIX}{name}",
                                  _factory(item, name, selection, sampled), item))
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
    selection = getattr(target.source, "selection", None)
    if selection is not None:
        entry["selection"] = selection
    if runs:
        from trainspec import train

        fixed = target.owner.fixed
        original = _cached(_ORIGINALS, id(fixed), fixed, lambda: train(target.owner.recipe("fixed")))
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


def _label(status: MutantStatus) -> Text:
    label, style = _STYLE[status]
    return Text(label, style=style)


def _mutants(results: list[Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(pair, mutant) -> {spec: result}, in the order the results came."""
    rows: dict[tuple[str, str], dict[str, Any]] = OrderedDict()
    for r in results:
        rows.setdefault((r.group or "", (r.variant or "").removeprefix(PREFIX)), {})[r.spec] = r
    return rows


def _overall(statuses: Iterable[MutantStatus]) -> MutantStatus:
    """One mutant's status across the specs applied to it: killed if any spec kills it."""
    found = set(statuses)
    for status_ in (MutantStatus.KILLED, MutantStatus.SURVIVED, MutantStatus.ERROR,
                    MutantStatus.EQUIVALENT):
        if status_ in found:
            return status_
    return MutantStatus.NOT_APPLICABLE


def _matrix(rows: dict[tuple[str, str], dict[str, Any]], specs: list[str],
            names: dict[str, str]) -> Table:
    table = Table(title="Mutants x specs (spec strength)", box=box.SIMPLE_HEAVY,
                  title_justify="left")
    table.add_column("pair", style="bold")
    table.add_column("mutant")
    for spec in specs:
        table.add_column(names[spec], justify="center", overflow="fold")
    table.add_column("killed by", justify="right")
    for (pair, mutant), by_spec in rows.items():
        row: list[Any] = [pair, mutant]
        for spec in specs:
            r = by_spec.get(spec)
            row.append(_label(_status(r)) if r is not None else "")
        row.append(_killed_cell(by_spec))
        table.add_row(*row)
    return table


def _killed_cell(by_spec: dict[str, Any]) -> Text:
    statuses = [_status(r) for r in by_spec.values()]
    killers = sum(s is MutantStatus.KILLED for s in statuses)
    counted = sum(s in (MutantStatus.KILLED, MutantStatus.SURVIVED) for s in statuses)
    return Text(f"{killers}/{counted}" if counted else "—",
                style="green" if killers else ("bold red" if counted else "dim"))


def _list(rows: dict[tuple[str, str], dict[str, Any]], names: dict[str, str]) -> Table:
    """One row per mutant, grouped by pair, naming the specs that kill it and those it survives:
    readable at 80 columns however many specs there are."""
    table = Table(title="Mutants (spec strength)", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("pair / mutant", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("specs: ✔ kill it, ✘ it survives", overflow="fold")
    short = {spec: name.removeprefix("test_") for spec, name in names.items()}
    last = None
    for (pair, mutant), by_spec in rows.items():
        if pair != last:
            table.add_row(Text(pair, style="bold"), "", "")
            last = pair
        label = _label(_overall(_status(r) for r in by_spec.values()))
        label.append(f" {_killed_cell(by_spec).plain}", style="dim")
        specs = Text()
        for spec, r in by_spec.items():
            st = _status(r)
            mark, style = {MutantStatus.KILLED: ("✔", "green"),
                           MutantStatus.SURVIVED: ("✘", "red")}.get(st, ("·", "dim"))
            if specs:
                specs.append(" ")
            specs.append(f"{mark} {short[spec]}", style=style)
        table.add_row(f"  {mutant}", label, specs)
    return table


def _operator_table(rows: dict[tuple[str, str], dict[str, Any]], width: int = 100) -> Table:
    """Per operator: how many of its mutants ran, and how many some spec killed (the operator's
    family too when the terminal has room)."""
    from trainspec.mutants import OPERATORS

    counts: dict[str, dict[MutantStatus, int]] = OrderedDict()
    for (_pair, mutant), by_spec in rows.items():
        overall = _overall(_status(r) for r in by_spec.values())
        counts.setdefault(mutant, {s: 0 for s in MutantStatus})[overall] += 1
    table = Table(title="Operators (mutants across pairs)", box=box.SIMPLE_HEAVY,
                  title_justify="left")
    family = width >= 100
    table.add_column("operator", no_wrap=True)
    if family:
        table.add_column("family")
    for col in ("mutants", "killed", "survived", "equiv.", "n/a", "error"):
        table.add_column(col, justify="right")
    for op in OPERATORS:
        c = counts.get(op.name)
        if c is None:
            continue
        table.add_row(op.name, *([op.family] if family else []), str(sum(c.values())),
                      *(str(c[s]) if c[s] else Text("0", style="dim") for s in (
                          MutantStatus.KILLED, MutantStatus.SURVIVED, MutantStatus.EQUIVALENT,
                          MutantStatus.NOT_APPLICABLE, MutantStatus.ERROR)))
    return table


def _sampling_note(results: list[Any], rows: dict[tuple[str, str], dict[str, Any]]) -> Text | None:
    """What was sampled and what was left out, from the selection each mutant carries."""
    from trainspec.mutants import OPERATORS

    selections = [r.mutant.get("selection") for r in results if (r.mutant or {}).get("selection")]
    if not selections:
        return None
    recipes = {sel["recipe"]: sel for sel in selections}
    pool = selections[0]["pool"]
    maximum = selections[0]["max"]
    ran = OrderedDict.fromkeys(mutant for _pair, mutant in rows)
    never = [op.name for op in OPERATORS if op.name in pool and op.name not in ran]
    total = len(recipes) * len(pool)
    sampled = sum(len(sel["sampled"]) for sel in recipes.values())
    text = Text()
    if 0 < maximum < len(pool):
        text.append(f"Sampled {maximum} of {len(pool)} operators per distinct fixed recipe "
                    f"(trainspec_mutate_max={maximum}, seeded by the recipe's name): {sampled} of "
                    f"{total} mutants of {len(recipes)} recipes; {len(ran)} operators ran")
        text.append(f", never sampled: {', '.join(never)}" if never else "")
        text.append(". --trainspec-mutate-max=0 runs every operator.")
    else:
        text.append(f"Every selected operator ({len(pool)}) on each of {len(recipes)} distinct "
                    f"fixed recipes: {total} mutants.")
    left_out = [op.name for op in OPERATORS if op.name not in pool]
    if left_out:
        text.append(f" Not selected (trainspec_mutate_operators): {', '.join(left_out)}.")
    return text


def tables(results: list[Any], width: int = 100) -> list[Any]:
    """The spec-strength table (mutants x specs, or a list when the matrix would not fit), the
    operators that ran, the score per spec file, what was sampled, and the survivors."""
    if not results:
        return []
    from trainspec.plugin.names import spec_names

    specs = list(OrderedDict.fromkeys(r.spec for r in results))
    names = spec_names(specs)
    rows = _mutants(results)
    pair_width = max(len(pair) + len(mutant) for pair, mutant in rows)
    matrix_width = pair_width + sum(max(len(n), 12) + 3 for n in names.values()) + 20
    out: list[Any] = [_matrix(rows, specs, names) if matrix_width <= width else _list(rows, names),
                      _operator_table(rows, width)]
    survivors = [f"{pair}/{mutant}" for (pair, mutant), by_spec in rows.items()
                 if _overall(_status(r) for r in by_spec.values()) is MutantStatus.SURVIVED]

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
    out.append(scores)
    note = _sampling_note(results, rows)
    if note is not None:
        out.append(note)
    if survivors:
        out.append(Text(f"{len(survivors)} mutant(s) no spec kills: " + ", ".join(survivors) +
                        ". Add a spec asserting the symptom each one causes.", style="bold red"))
    else:
        out.append(Text("Every applicable, non-equivalent mutant is killed by some spec.",
                        style="green"))
    return out
