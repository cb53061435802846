"""``trainspec exercises init DIR [--with-solutions]`` and ``trainspec exercises list``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Declare the ``exercises`` command and its two subcommands."""
    parser = sub.add_parser("exercises", help="write a student workspace of training exercises")
    actions = parser.add_subparsers(dest="action", required=True)
    init = actions.add_parser("init", help="write the exercises, their specs and a README to DIR")
    init.add_argument("directory", metavar="DIR", help="a new or empty folder")
    init.add_argument("--with-solutions", action="store_true",
                      help="also write DIR/solutions/ with each exercise's fixed module")
    init.add_argument("--only", metavar="NAMES", default=None,
                      help="comma-separated exercise names (default: all)")
    actions.add_parser("list", help="list the shipped exercises")


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``trainspec exercises ...``; returns the exit status (2 for usage errors)."""
    from trainspec.exercises import WorkspaceError, catalog, init

    exercises = list(catalog())
    if args.action == "list":
        console.print(table(exercises))
        return 0
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        known = {e.name: e for e in exercises}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            console.print(f"trainspec exercises: error: unknown exercise(s) {', '.join(unknown)}; "
                          "see `trainspec exercises list`", style="bold red")
            return 2
        exercises = [known[n] for n in wanted]
    try:
        init(args.directory, exercises, with_solutions=args.with_solutions)
    except WorkspaceError as exc:
        console.print(f"trainspec exercises: error: {exc}", style="bold red")
        return 2
    where = Path(args.directory)
    console.print(f"Wrote {len(exercises)} exercises to {where}/"
                  + (" (solutions in solutions/)" if args.with_solutions else ""))
    console.print(f"Next: cd {where} && pytest")
    return 0


def table(exercises: list) -> Table:
    """The exercises as a table: number, module, task and where in the course, points."""
    out = Table(title="trainspec exercises", title_justify="left")
    out.add_column("#", justify="right")
    out.add_column("module", style="bold", no_wrap=True)
    out.add_column("task", ratio=1)
    out.add_column("points", justify="right")
    for i, e in enumerate(exercises, start=1):
        points = e.points * len(e.specs)
        task = Text(e.title or e.name)
        if e.lesson:
            task.append(f"\n{e.lesson}", style="dim")
        n = len(e.specs)
        out.add_row(str(i), f"{e.name}.py", task, f"{points:g} ({n} spec{'s' if n != 1 else ''})")
    return out
