"""A student's workspace: the folder ``trainspec exercises init`` writes, and what it keeps.

Layout (``<name>`` for each exercise, ``NN`` its number)::

    DIR/README.md                    the student's instructions
    DIR/pytest.ini                   pythonpath, testpaths, student mode, results.json
    DIR/trainspec-exercises.json     the manifest: exercises, their specs and hint ladders
    DIR/<name>.py                    the module the student edits
    DIR/specs/test_NN_<name>.py      its specs
    DIR/solutions/<name>.py          with --with-solutions: the fix, same file name
    DIR/.trainspec/progress.json     failures seen per exercise (the hint ladder's count)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainspec.environment import write_atomic
from trainspec.exercises.exercise import Exercise

MANIFEST = "trainspec-exercises.json"
MANIFEST_SCHEMA = "trainspec-exercises"
MANIFEST_VERSION = 1
PROGRESS = Path(".trainspec") / "progress.json"

PYTEST_INI = """\
# A trainspec exercise workspace (written by `trainspec exercises init`).
[pytest]
testpaths = specs
# the exercise modules in this folder are importable from the specs
pythonpath = .
# student mode prints the first failing exercise with a hint; tracebacks would bury it
addopts = -q --tb=no -rN
trainspec_student = true
trainspec_grade = results.json
filterwarnings =
    ignore::DeprecationWarning
"""

GITIGNORE = ".trainspec/\n.trainspec_cache/\n.pytest_cache/\n__pycache__/\nresults.json\n"


class WorkspaceError(Exception):
    """The workspace cannot be written (files in the way) or read (a bad manifest)."""


def spec_file(index: int, exercise: Exercise) -> str:
    """The spec file of the ``index``-th exercise (1-based), relative to the workspace."""
    return f"specs/test_{index:02d}_{exercise.name}.py"


def init(directory: str | Path, exercises: Sequence[Exercise], *,
         with_solutions: bool = False) -> list[Path]:
    """Write a workspace for ``exercises`` into ``directory``; returns the files written.

    Refuses to overwrite any file (a student's work may be there).

    Example:
        >>> from trainspec.exercises import catalog, workspace
        >>> files = workspace.init("class", catalog(), with_solutions=True)  # doctest: +SKIP
    """
    root = Path(directory)
    if not exercises:
        raise WorkspaceError("no exercises to write")
    names = [e.name for e in exercises]
    if len(set(names)) != len(names):
        raise WorkspaceError(f"exercise names must be distinct, got {names}")
    files: dict[Path, str] = {}
    entries = []
    for index, exercise in enumerate(exercises, start=1):
        specs = spec_file(index, exercise)
        files[root / f"{exercise.name}.py"] = exercise.module_text()
        files[root / specs] = exercise.spec_text(index)
        if with_solutions:
            files[root / "solutions" / f"{exercise.name}.py"] = exercise.solution
        entries.append(exercise.manifest_entry(index, specs))
    manifest = {"schema": MANIFEST_SCHEMA, "version": MANIFEST_VERSION, "exercises": entries}
    files[root / MANIFEST] = json.dumps(manifest, indent=2) + "\n"
    files[root / "pytest.ini"] = PYTEST_INI
    files[root / ".gitignore"] = GITIGNORE
    files[root / "README.md"] = readme(exercises, with_solutions)
    existing = [str(p) for p in files if p.exists()]
    if existing:
        raise WorkspaceError(
            f"{len(existing)} file(s) already exist, e.g. {existing[0]}; choose an empty or new "
            "folder (init never overwrites a student's work)"
        )
    for path, text in files.items():
        write_atomic(path, text)
    return list(files)


def readme(exercises: Sequence[Exercise], with_solutions: bool) -> str:
    """The student's README: the loop, and the list of exercises."""
    rows = "\n".join(
        f"| {i} | `{e.name}.py` | {e.title or e.name} | {e.lesson or ''} |"
        for i, e in enumerate(exercises, start=1)
    )
    solutions = (
        "\n`solutions/` holds the fixed module of every exercise under the same file name "
        "(for teachers; copying one over its exercise turns that exercise green).\n"
        if with_solutions else ""
    )
    return f"""# Training exercises

Each exercise is a model that does not train properly. Your job: change the model (or how it is
trained) until its specs pass. The specs measure how the model trains (the loss falls, the
gradients reach every layer, no unit dies...): you turn them green by fixing the cause.

## Your loop

1. Run `pytest` in this folder. It trains every exercise (a few seconds each; unchanged models
   come from a cache) and shows how many exercises are green, then the first failing one: what
   was measured against what is required, the loss curve, and a hint.
2. Open the exercise's module (`<name>.py`): its docstring states the task; the `recipe` at the
   bottom says what is trained and how.
3. Change it, run `pytest` again. Each further failure of the same exercise shows a more specific
   hint; `pytest --trainspec-hint 3` shows hint 3 straight away.
4. Run only one exercise with `pytest specs/test_02_fail2_sigmoid.py` (for example).

Do not edit the files in `specs/`: they are how your work is graded. `pytest` writes your grade to
`results.json` (Gradescope's format); some graded specs may be hidden.
{solutions}
## Exercises

| # | module | task | course |
|---|--------|------|--------|
{rows}
"""


# -- reading a workspace --------------------------------------------------------------------------


@dataclass
class Manifest:
    """The workspace's exercises, as ``init`` wrote them."""

    root: Path
    exercises: list[dict[str, Any]]

    def by_spec_file(self, path: Path) -> dict[str, Any] | None:
        """The exercise whose spec file is ``path``."""
        for entry in self.exercises:
            if (self.root / entry["spec_file"]).resolve() == path.resolve():
                return entry
        return None


def find_manifest(root: Path) -> Manifest | None:
    """The manifest in ``root``, if this is a workspace (a bad manifest is an error)."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkspaceError(f"{path}: not a readable exercise manifest ({exc})") from None
    if data.get("schema") != MANIFEST_SCHEMA or not isinstance(data.get("exercises"), list):
        raise WorkspaceError(f"{path}: not a trainspec exercise manifest")
    return Manifest(root, data["exercises"])


class Progress:
    """How many times each exercise was shown failing: the hint ladder's count, kept in the
    workspace (``.trainspec/progress.json``) so it survives between pytest runs."""

    def __init__(self, root: Path):
        self.path = root / PROGRESS
        self.failures: dict[str, int] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.failures = {str(k): int(v) for k, v in (data.get("failures") or {}).items()}
        except (OSError, ValueError, AttributeError, TypeError):
            self.failures = {}  # missing or damaged: start the ladder again

    def record_failure(self, exercise: str) -> int:
        """Count one more failure of ``exercise``; returns the new count."""
        self.failures[exercise] = self.failures.get(exercise, 0) + 1
        write_atomic(self.path, json.dumps({"version": 1, "failures": self.failures},
                                           indent=2) + "\n")
        return self.failures[exercise]
