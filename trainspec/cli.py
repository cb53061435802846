"""The ``trainspec`` command.

``trainspec doctor path/to/module.py:name`` trains the recipe called ``name`` in that module (a
:class:`~trainspec.Recipe`, a :class:`~trainspec.Pair` — both sides — or a function returning a
recipe) and prints the doctor's diagnosis with the curves, the primary cause first; with
``--try-fixes`` it retrains with the repairs the findings suggest and shows which one worked, with
the loss and accuracy before and after.  Exit status: 0 healthy, 1 findings, 2 usage error (bad
path or name).

``trainspec diff A.json B.json`` compares two ``--trainspec-json`` results run by run
(:mod:`trainspec.diff`).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


class UsageFailure(Exception):
    """A bad command line: printed as one line, exit status 2."""


def load(target: str) -> Any:
    """The object named by ``path/to/module.py:name``."""
    path_text, sep, name = target.rpartition(":")
    if not sep or not path_text or not name:
        raise UsageFailure(f"expected path/to/module.py:name, got {target!r}")
    path = Path(path_text)
    if not path.is_file():
        raise UsageFailure(f"no such file: {path}")
    for folder in (str(Path.cwd()), str(path.resolve().parent)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f"_trainspec_doctor_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise UsageFailure(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UsageFailure(f"importing {path} raised {type(exc).__name__}: {exc}") from None
    if not hasattr(module, name):
        names = [n for n, v in vars(module).items() if _kind(v)]
        raise UsageFailure(
            f"{path} has no {name!r}; recipes and pairs there: {', '.join(names) or 'none'}"
        )
    return getattr(module, name)


def _kind(value: Any) -> str | None:
    from trainspec.pairs import Pair
    from trainspec.recipe import Recipe

    if isinstance(value, Recipe):
        return "recipe"
    if isinstance(value, Pair):
        return "pair"
    return None


def recipes_of(value: Any, name: str) -> list[tuple[str, Any]]:
    from trainspec.pairs import Pair
    from trainspec.recipe import Recipe

    if isinstance(value, Recipe):
        return [(name, value)]
    if isinstance(value, Pair):
        return [(f"{name} (broken)", value.recipe("broken")), (f"{name} (fixed)", value.recipe("fixed"))]
    if callable(value):
        made = value()
        if isinstance(made, Recipe):
            return [(name, made)]
    raise UsageFailure(f"{name!r} is a {type(value).__name__}, not a trainspec Recipe or Pair")


def render(console: Console, title: str, run: Any, diagnosis: Any) -> None:
    from trainspec.sparkline import sparkline

    curves = Table(box=None, show_header=False, pad_edge=False)
    curves.add_column(style="bold")
    curves.add_column(style="cyan")
    curves.add_column(justify="right", style="dim")
    loss = run.loss
    curves.add_row("loss", sparkline(list(loss), 50),
                   f"{loss.first:.4g} → {loss.last:.4g}" if len(loss) else "—")
    for name, series in run.metrics.items():
        curves.add_row(name, sparkline(list(series), 50), f"{series.last:.4g}" if len(series) else "")
    for layer in run.layers.list():
        g = layer.grad_norm
        curves.add_row(f"|grad| {layer.name}", sparkline(list(g), 50),
                       f"median {g.median():.2g}" if len(g) else "")
    for layer in run.layers.frozen():  # read before and after the run, not every step
        origin = {True: "initial random weights", False: "pretrained weights"}.get(
            layer.at_initializer, "weights of unknown origin")
        moved = (f"moved {layer.update_ratio.last:.2g}" if layer.moved else "did not move")
        curves.add_row(f"frozen {layer.name}", origin, moved)
    parts: list[Any] = [curves]
    if diagnosis.findings:
        cause = Text()
        cause.append("cause: ", style="bold")
        cause.append(diagnosis.summary, style="bold red")
        parts.append(cause)
        for f in diagnosis.findings:
            data = f.to_json()
            block = Text()
            primary = f is diagnosis.primary
            block.append(f"{'primary ' if primary else ''}{data['symptom']}",
                         style="bold red" if primary else "red")
            block.append(f"  ({data['where']})\n")
            evidence = ", ".join(f"{k} = {_fmt(v)}" for k, v in data["evidence"].items())
            block.append(f"  evidence: {evidence}\n", style="dim")
            block.append(f"  {data['explanation']}")
            for fix in data["fixes"]:
                block.append(f"\n  • {fix}", style="italic")
            parts.append(block)
        border = "red"
    else:
        parts.append(Text("no findings: the run looks healthy", style="green"))
        border = "green"
    from rich.console import Group

    status = "finite" if run.finite else f"non-finite: {run.nonfinite}"
    console.print(Panel(Group(*parts), title=f"doctor · {title}", title_align="left",
                        subtitle=f"seed {run.seed}, {run.steps_recorded}/{run.steps_requested} "
                        f"steps, {status}", border_style=border))


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def render_trials(console: Console, title: str, trials: list[Any]) -> None:
    """The repairs tried, the one that worked first, with before/after figures."""
    if not trials:
        console.print(f"try-fixes · {title}: no repair applies to these findings")
        return
    console.print(Text(f"try-fixes · {title}", style="bold"))
    for trial in sorted(trials, key=lambda t: not t.healthy):
        before, after = trial.before, trial.after
        line = Text("  ")
        mark, style = ("✔ healthy", "bold green") if trial.healthy else (
            ("✘ error", "red") if trial.error else ("✘ not healthy", "yellow"))
        line.append(f"{mark}  ", style=style)
        line.append(f"{trial.fix}\n", style="bold" if trial.healthy else "")
        if trial.error:
            line.append(f"    {trial.error}")
        else:
            line.append(
                f"    loss {_fmt(before.get('loss_start'))} → {_fmt(before.get('loss_end'))} before, "
                f"{_fmt(after.get('loss_start'))} → {_fmt(after.get('loss_end'))} after; accuracy "
                f"{_fmt(before.get('accuracy'))} → {_fmt(after.get('accuracy'))}; findings after: "
                + (", ".join(str(s) for s in trial.diagnosis.symptoms) or "none"), style="dim")
        console.print(line)


def doctor(args: argparse.Namespace, console: Console) -> int:
    from trainspec.doctor import diagnose, parse_lines

    overrides = parse_lines(args.set or [])
    value = load(args.target)
    name = args.target.rpartition(":")[2]
    found = 0
    for title, recipe in recipes_of(value, name):
        if args.steps:
            recipe = recipe.replace(steps=args.steps)
        import trainspec

        run = trainspec.train(recipe)
        diagnosis = diagnose(run, recipe, **overrides)
        render(console, title, run, diagnosis)
        found += len(diagnosis.findings)
        if args.try_fixes and diagnosis.findings:
            from trainspec.doctor import try_fixes

            render_trials(console, title, try_fixes(recipe, diagnosis, **overrides))
    return 1 if found else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trainspec", description="trainspec tools")
    sub = parser.add_subparsers(dest="command", required=True)
    doc = sub.add_parser("doctor", help="train a recipe and diagnose the run")
    doc.add_argument("target", help="path/to/module.py:name (a Recipe or a Pair)")
    doc.add_argument("--steps", type=int, default=None, help="override the recipe's steps")
    doc.add_argument("--set", action="append", metavar="NAME=VALUE",
                     help="override a doctor threshold, e.g. --set dead_fraction=0.9")
    doc.add_argument("--try-fixes", action="store_true",
                     help="retrain with the repairs the findings suggest and show which worked")
    cmp = sub.add_parser("diff", help="compare two --trainspec-json results run by run")
    cmp.add_argument("a", help="results file A (e.g. from main)")
    cmp.add_argument("b", help="results file B (e.g. from a branch)")
    cmp.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (default 0)")
    cmp.add_argument("--atol", type=float, default=0.0, help="absolute tolerance (default 0)")
    from trainspec.exercises.cli import add_parser
    from trainspec.exercises.cli import run as run_exercises

    add_parser(sub)
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    if args.command == "exercises":
        return run_exercises(args, console)
    if args.command == "diff":
        from trainspec.diff import run_cli

        return run_cli(args, console)
    try:
        return doctor(args, console)
    except UsageFailure as exc:
        console.print(f"trainspec doctor: error: {exc}", style="bold red")
        return 2
    except ValueError as exc:  # a bad --set
        console.print(f"trainspec doctor: error: {exc}", style="bold red")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
