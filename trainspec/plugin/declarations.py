"""Spec declarations that cannot be used, reported for the spec (or module) they concern while
the rest of the session runs.

- A spec whose ``applies_to`` cannot be used (no ``run`` argument, a pair name another pair
  already has) becomes one item that errors at setup with a one-paragraph message, instead of a
  ``UsageError`` that stops the session.
- A spec module whose recipes, pairs or sweeps are invalid at import is a collection error with
  the validation message (field and cause) and the line of the module, instead of a traceback
  through pydantic; and it no longer interrupts the session: the other modules' specs run and
  the exit status is 1.  Any other collection error keeps pytest's behaviour.
"""

from __future__ import annotations

import traceback
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from trainspec.exceptions import SpecError, TrainspecError

#: the pairs and sweeps each name stands for in this session: (kind, name) -> (object, spec)
NAMES_KEY = pytest.StashKey[dict]()
#: node ids of collection errors that are trainspec input errors
INPUT_ERRORS_KEY = pytest.StashKey[set]()
_MODELS = ("Recipe", "Pair", "Sweep")


class SpecDeclarationItem(pytest.Item):
    """Stands for a spec whose declaration cannot be used: errors at setup, naming the cause.

    Carries ``fixturenames = ("run",)`` so the session records it as a spec (in the report and
    the JSON) with outcome ``error``."""

    def __init__(self, *, message: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.message = message
        self.fixturenames = ("run",)

    def setup(self) -> None:
        raise SpecError(self.message)

    def runtest(self) -> None:  # never reached: setup raises
        raise SpecError(self.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return f"trainspec: {excinfo.value}"

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


def check_names(config: pytest.Config, nodeid: str, items: tuple[Any, ...]) -> None:
    """Refuse a pair or sweep whose name another, different pair or sweep already has in this
    session: both would write one TensorBoard folder and read as one in the report."""
    from trainspec.pairs import Pair, Sweep, _same_source

    names = config.stash.setdefault(NAMES_KEY, {})
    for item in items:
        if not isinstance(item, (Pair, Sweep)):
            continue
        kind = type(item).__name__.lower()
        earlier = names.setdefault((kind, item.name), (item, nodeid))
        other, where = earlier
        if other is item:
            continue
        if isinstance(item, Pair) and _same_source(item.broken, other.broken) and _same_source(
            item.fixed, other.fixed
        ):
            continue
        raise SpecError(
            f"{kind} {item.name!r} is not the {kind} of that name {where} uses: two different "
            f"{kind}s of one name would share one verdict and one TensorBoard folder; rename one"
        )


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> Generator[None, Any, Any]:
    """A :class:`SpecError` raised while a spec is parametrised errors that spec only."""
    try:
        return (yield)
    except SpecError as exc:
        return [SpecDeclarationItem.from_parent(collector, name=name, message=str(exc))]


def _input_error(exc: BaseException | None) -> bool:
    if isinstance(exc, TrainspecError):
        return True
    return isinstance(exc, ValidationError) and exc.title in _MODELS


def _module_line(excinfo: pytest.ExceptionInfo[BaseException], path: Path | None) -> str:
    """``file:line: code`` of the spec module's frame that built the bad object."""
    if path is None:
        return ""
    for frame in traceback.extract_tb(excinfo.tb):  # the outermost: the statement at top level
        if Path(frame.filename) == path:
            return f"\n  at {frame.filename}:{frame.lineno}: {(frame.line or '').strip()}"
    return ""


def describe(exc: BaseException) -> str:
    """One line per problem: ``Recipe, field 'seed': Input should be ...``.

    Example:
        >>> import numpy as np, trainspec
        >>> try:
        ...     trainspec.Recipe(model=lambda: None, data=(np.zeros((4, 1)), np.zeros(4)),
        ...                      batch_size=2, seed=-1)
        ... except Exception as exc:
        ...     print(describe(exc))
        Recipe, field 'seed': Input should be greater than or equal to 0
    """
    if not isinstance(exc, ValidationError):
        return str(exc)
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        where = f"{exc.title}, field {loc!r}" if loc else exc.title
        lines.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    report = yield
    call = getattr(report, "call", None) or report.__dict__.get("call")
    excinfo = getattr(call, "excinfo", None)
    if report.failed and excinfo is not None and _input_error(excinfo.value):
        path = getattr(collector, "path", None)
        report.longrepr = (
            f"trainspec: {collector.nodeid or path} cannot be collected: an invalid recipe, pair "
            f"or sweep\n{describe(excinfo.value)}{_module_line(excinfo, path)}\n"
            "(the other modules' specs still run)"
        )
        collector.config.stash.setdefault(INPUT_ERRORS_KEY, set()).add(report.nodeid)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Go on with the session when every collection error is an invalid trainspec input."""
    ours = session.config.stash.get(INPUT_ERRORS_KEY, set())
    if ours and session.testsfailed == len(ours):
        session.config.option.continue_on_collection_errors = True
