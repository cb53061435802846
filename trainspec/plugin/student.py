"""Student mode and grades: progress first, then the first failing exercise with a hint.

On in an exercise workspace (its ``trainspec-exercises.json`` or ``trainspec_student = true``)
or with ``--trainspec-student``.  The hint ladder's count is kept in the workspace
(:class:`~trainspec.exercises.workspace.Progress`); ``--trainspec-hint N`` jumps to hint N.
``--trainspec-grade PATH`` writes Gradescope's ``results.json`` (with or without student mode).
Hidden specs count in the grade and never appear in the student's output.
"""

from __future__ import annotations

import io
import math
import time
from collections import OrderedDict
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.columns import Columns
from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from trainspec.exceptions import SpecFailure
from trainspec.plugin.grading import PROPERTY, GradeRecord, gradescope, headline, marker_settings
from trainspec.plugin.keys import RUNS_KEY, TARGET_KEY
from trainspec.plugin.observe import message_of, plain_nodeid
from trainspec.plugin.options import option


def student_mode(config: pytest.Config) -> bool:
    """Whether student mode is on: the option, or a workspace manifest in the rootdir."""
    if option(config, "trainspec_student"):
        return True
    from trainspec.exercises.workspace import MANIFEST

    return (config.rootpath / MANIFEST).is_file()


def hint_option(config: pytest.Config) -> int | None:
    """``--trainspec-hint N`` (or its ini twin) as a number >= 1, or None."""
    value = option(config, "trainspec_hint")
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise pytest.UsageError(f"trainspec_hint must be a whole number >= 1, not {value!r}")
    return number


@dataclass
class ExerciseState:
    """One exercise's records in this session."""

    name: str
    index: int | None
    entry: dict[str, Any] | None
    records: list[GradeRecord]

    @property
    def visible(self) -> list[GradeRecord]:
        return [r for r in self.records if not r.hidden]

    @property
    def green(self) -> bool:
        return bool(self.visible) and all(r.passed for r in self.visible)

    @property
    def hints(self) -> list[str]:
        return list((self.entry or {}).get("hints") or [])


class StudentHooks:
    """Collects every test's grade record; in student mode prints the student's view, and
    writes ``results.json`` when asked."""

    def __init__(self, config: pytest.Config, student: bool):
        from trainspec.exercises.workspace import WorkspaceError, find_manifest

        self.config = config
        self.student = student
        self.is_worker = hasattr(config, "workerinput")
        try:
            self.manifest = find_manifest(config.rootpath)
        except WorkspaceError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.hint = hint_option(config)
        grade = option(config, "trainspec_grade")
        self.grade_path = None
        if grade:
            path = Path(grade)
            self.grade_path = path if path.is_absolute() else config.invocation_params.dir / path
        self.records: list[GradeRecord] = []
        self.order: dict[str, int] = {}
        self.started = time.monotonic()
        #: the first failing exercise and the hint level shown (set at session finish)
        self.shown: tuple[ExerciseState, int] | None = None

    # -- where tests run -------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker_settings(item)  # a bad points/hidden value is a usage error, up front
        self.order = {plain_nodeid(item.nodeid): i for i, item in enumerate(items)}

    def _exercise(self, item: pytest.Item) -> tuple[str, int | None, dict[str, Any] | None]:
        entry = self.manifest.by_spec_file(item.path) if self.manifest else None
        if entry is not None:
            return entry["name"], entry.get("index"), entry
        return item.path.stem.removeprefix("test_"), None, None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
            report.user_properties.append((PROPERTY, self._record(item, call, report).to_json()))
        return report

    def _record(self, item: pytest.Item, call: pytest.CallInfo[None], report: Any) -> GradeRecord:
        from trainspec.plugin.grading import spec_source

        points, visibility = marker_settings(item)
        name, index, entry = self._exercise(item)
        excinfo = call.excinfo
        if report.passed:
            outcome = "passed"
        elif report.skipped:
            outcome = "skipped"
        elif call.when == "call" and excinfo is not None and excinfo.errisinstance(AssertionError):
            outcome = "failed"
        else:
            outcome = "error"
        record = GradeRecord(
            nodeid=plain_nodeid(item.nodeid), exercise=name, spec=item.name, points=points,
            visibility=visibility, outcome=outcome, exercise_index=index,
            message=message_of(excinfo) if outcome != "passed" else None,
            source=spec_source(item) if visibility == "visible" else None,
            duration=call.duration,
        )
        if outcome == "skipped" and excinfo is not None:
            record.message = str(getattr(excinfo.value, "msg", "") or excinfo.value)
        if outcome in ("failed", "error"):
            self._explain(record, item, excinfo, entry)
        return record

    def _explain(self, record: GradeRecord, item: pytest.Item, excinfo: Any,
                 entry: dict[str, Any] | None) -> None:
        """Measured and required, the curve, and the doctor's primary finding for a student."""
        from trainspec.expect import curve_points

        details = getattr(excinfo.value, "details", None) if excinfo is not None else None
        if isinstance(excinfo.value if excinfo else None, SpecFailure) and details:
            record.what = details.get("what")
            record.measured = details.get("measured")
            record.required = details.get("required")
            record.where = details.get("where")
            record.curve_name = details.get("curve_name")
            record.curve = details.get("curve")
        runs = item.stash.get(RUNS_KEY, [])
        if runs and not record.curve:
            record.curve_name, record.curve = "loss", curve_points(runs[0].loss)
        if runs:
            record.doctor = _doctor(runs[0], item, entry or {})

    # -- the controller --------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == PROPERTY:
                self.records.append(GradeRecord.from_json(value))

    def exercises(self) -> list[ExerciseState]:
        """This session's exercises in file order (manifest order in a workspace)."""
        # the session hooks know the collection order under xdist too (from the workers)
        session = self.config.pluginmanager.get_plugin("trainspec-session")
        order = getattr(session, "order", None) or self.order
        last = len(order)
        self.records.sort(key=lambda r: order.get(r.nodeid, last))
        groups: dict[str, list[GradeRecord]] = OrderedDict()
        for r in self.records:
            groups.setdefault(r.exercise, []).append(r)
        entries = {e["name"]: e for e in (self.manifest.exercises if self.manifest else [])}
        states = [ExerciseState(name, records[0].exercise_index, entries.get(name), records)
                  for name, records in groups.items()]
        states.sort(key=lambda s: (s.index is None, s.index or 0))
        return states

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            return
        states = self.exercises()
        failing = next((s for s in states if s.visible and not s.green), None)
        if self.student and failing is not None:
            from trainspec.exercises.workspace import Progress

            count = Progress(self.config.rootpath).record_failure(failing.name)
            self.shown = (failing, count)
        if self.grade_path is not None:
            from trainspec.plugin.grading import write

            for state in states:
                level = self._level(state)
                for r in state.records:
                    if not r.passed and state.hints and level:
                        r.extra["hint"] = state.hints[level - 1]
            write(self.grade_path, gradescope(self.records, progress_line(states).plain,
                                              time.monotonic() - self.started))

    def _level(self, state: ExerciseState) -> int:
        """The hint shown for ``state``: --trainspec-hint N, else one more per failure seen."""
        if not state.hints:
            return 0
        if self.hint is not None:
            return min(self.hint, len(state.hints))
        count = self.shown[1] if self.shown and self.shown[0] is state else 1
        return max(1, min(count, len(state.hints)))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self.student or not self.records:
            return
        writer = self.config.get_terminal_writer()
        terminalreporter.write(render(self, width=writer.fullwidth, color=writer.hasmarkup))


def _doctor(run: Any, item: pytest.Item, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The doctor's finding on ``run`` for a student: the first of the exercise's symptoms it
    finds, else its primary finding; None when healthy or when the doctor cannot run (it must
    never hide the spec's own result)."""
    try:
        from trainspec import diagnose  # the public function (the doctor's modules may move)
        from trainspec.exercises.words import for_student, primary_finding

        target = item.stash.get(TARGET_KEY, None)
        recipe = target.recipe() if target is not None else None
        diagnosis = diagnose(run, recipe) if recipe is not None else diagnose(run)
        found = {str(f.symptom): f for f in getattr(diagnosis, "findings", None) or []}
        wanted = [found[s] for s in entry.get("symptoms") or [] if s in found]
        finding = wanted[0] if wanted else primary_finding(diagnosis)
        return for_student(finding, entry.get("change", "")) if finding is not None else None
    except Exception:
        return None


# -- what the student sees --------------------------------------------------------------------


def progress_line(states: list[ExerciseState]) -> Text:
    """``3 of 12 exercises green`` and the visible points."""
    graded = [s for s in states if s.visible]
    green = sum(s.green for s in graded)
    visible = [r for s in graded for r in s.visible]
    earned = sum(r.score for r in visible)
    total = sum(r.points for r in visible)
    text = Text()
    text.append(f"{green} of {len(graded)} exercise{'s' if len(graded) != 1 else ''} green",
                style="bold green" if green == len(graded) else "bold")
    text.append(f" · {earned:g} / {total:g} points")
    if any(r.hidden for s in states for r in s.records):
        text.append(" (plus hidden specs, graded separately)", style="dim")
    return text


def render(hooks: StudentHooks, width: int = 80, color: bool = False) -> str:
    """The student's view: progress, then the first failing exercise with a hint."""
    states = hooks.exercises()
    buffer = io.StringIO()
    console = Console(file=buffer, width=max(60, width), force_terminal=color,
                      color_system="standard" if color else None, no_color=not color,
                      highlight=False)
    console.rule("[bold]trainspec · exercises")
    console.print(progress_line(states))
    marks = []
    for s in states:
        if s.visible:
            mark = Text("✔ " if s.green else "✘ ", style="green" if s.green else "red")
            mark.append(s.name, style="" if s.green else "bold")
            marks.append(mark)
    console.print(Columns(marks, padding=(0, 3)))
    if hooks.manifest is not None:
        missing = [e["name"] for e in hooks.manifest.exercises
                   if e["name"] not in {s.name for s in states}]
        if missing:
            console.print(Text(f"not run this time: {', '.join(missing)}", style="dim"))
    shown = hooks.shown
    if shown is None:
        if states and all(s.green for s in states if s.visible):
            console.print(Text("Every exercise is green. Well done!", style="bold green"))
        return buffer.getvalue()
    state = shown[0]
    level = hooks._level(state)
    console.print(exercise_panel(state, level, console.width))
    console.print(next_step(state, level, hooks.hint is not None))
    return buffer.getvalue()


def exercise_panel(state: ExerciseState, level: int, width: int) -> Panel:
    """The first failing visible spec of ``state``: its code, measured vs required, the
    curve, the doctor's finding in a student's words, and the hint at ``level``."""
    from trainspec.sparkline import sparkline

    failing = [r for r in state.visible if not r.passed]
    record = failing[0]
    parts: list[Any] = []
    head = Text(record.spec, style="bold")
    if len(failing) > 1:
        head.append(f"  (and {len(failing) - 1} more failing spec"
                    f"{'s' if len(failing) > 2 else ''} here)", style="dim")
    parts.append(head)
    if record.source:
        parts.append(Syntax(record.source, "python", theme="ansi_dark", background_color="default",
                            word_wrap=True))
    if record.what and record.required is not None:
        parts.append(Text(record.what, style="bold red"))
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="bold", no_wrap=True)
        facts.add_column()
        facts.add_row("  measured", _fmt(record.measured))
        facts.add_row("  required", record.required)
        if record.where:
            facts.add_row("  where", record.where)
        parts.append(facts)
    else:
        parts.append(Text(headline(record), style="bold red"))
    if record.curve:
        curve = [math.nan if v is None else v for v in record.curve]
        finite = [v for v in curve if math.isfinite(v)]
        name = record.curve_name or "loss"
        span = f"{_fmt(finite[0])} → {_fmt(curve[-1])}" if finite else ""
        room = width - 4 - len(name) - len(span) - 4  # panel borders and padding
        line = Text(f"{name}  ", style="bold")
        line.append(sparkline(curve, max(10, min(40, room))), style="cyan")
        if span:
            line.append(f"  {span}", style="dim")
        parts.append(line)
    if record.doctor:
        doctor = Text("What the doctor sees: ", style="bold")
        doctor.append(record.doctor["text"])
        parts.append(doctor)
    if level:
        hint = Text(f"Hint {level} of {len(state.hints)}: ", style="bold yellow")
        hint.append(state.hints[level - 1])
        parts.append(hint)
    number = f"Exercise {state.index} · " if state.index is not None else ""
    module = (state.entry or {}).get("module")
    title = f"{number}{state.name}" + (f" · edit {module}" if module else "")
    return Panel(Group(*parts), title=title, title_align="left", border_style="red")


def next_step(state: ExerciseState, level: int, forced: bool) -> Text:
    """What to do next, and how to see the next hint."""
    module = (state.entry or {}).get("module") or f"the module of {state.name}"
    text = Text(f"Next: edit {module}, then run pytest again.")
    if state.hints and level < len(state.hints):
        if forced:
            text.append(f" More: pytest --trainspec-hint {level + 1}.", style="dim")
        else:
            text.append(f" If it still fails you will see hint {level + 1} "
                        f"(or: pytest --trainspec-hint {level + 1}).", style="dim")
    elif state.hints:
        text.append(" That was the last hint.", style="dim")
    return text


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "n/a" if value is None else str(value)
