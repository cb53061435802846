"""The ``baseline`` fixture and ``--trainspec-update-baselines``: trajectory baselines stored
next to the spec module, checked after a refactor.

Files: ``<spec folder>/baselines/<module>/<test name>.json`` (``<test name>--<name>.json`` for a
named check).  Workers under pytest-xdist write their own items' files (atomically; no two items
share a file) and send what they wrote, what was missing and the tests they collected to the
controller through ``workeroutput``; the controller prints the summary and lists baselines no
collected spec uses.  The comparison itself lives in :mod:`trainspec.baseline`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from trainspec.plugin.keys import TARGET_KEY
from trainspec.plugin.observe import plain_nodeid
from trainspec.plugin.options import option

OUTPUT_KEY = "trainspec_baselines"
FOLDER = "baselines"
_SEP = "--"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]]")


def safe_name(name: str) -> str:
    """A test name as a file name: characters outside ``[A-Za-z0-9_.-[]]`` become ``_``.

    Example:
        >>> safe_name("test_same[lr=0.1 / adam]")
        'test_same[lr_0.1___adam]'
    """
    return _UNSAFE.sub("_", name)


def folder_of(module_path: Path) -> Path:
    return module_path.parent / FOLDER / module_path.stem


@dataclass
class BaselineBook:
    """What the session did with baselines (JSON-able for ``workeroutput``)."""

    written: list[tuple[str, str]] = field(default_factory=list)  # (path, "new"/"rewritten")
    missing: list[tuple[str, str]] = field(default_factory=list)  # (path, nodeid)
    collected: dict[str, list[str]] = field(default_factory=dict)  # module path -> test names

    def to_json(self) -> dict[str, Any]:
        return {"written": self.written, "missing": self.missing, "collected": self.collected}

    def merge(self, data: dict[str, Any]) -> None:
        self.written += [tuple(w) for w in data.get("written", [])]  # type: ignore[misc]
        self.missing += [tuple(m) for m in data.get("missing", [])]  # type: ignore[misc]
        for module, names in (data.get("collected") or {}).items():
            self.collected.setdefault(module, [])
            self.collected[module] += [n for n in names if n not in self.collected[module]]

    def unused(self) -> list[Path]:
        """Baseline files in the folders of collected modules that no collected test owns."""
        out = []
        for module, names in sorted(self.collected.items()):
            folder = folder_of(Path(module))
            if not folder.is_dir():
                continue
            owners = {safe_name(n) for n in names}
            for path in sorted(folder.glob("*.json")):
                stem = path.stem.split(_SEP, 1)[0]
                if stem not in owners:
                    out.append(path)
        return out


class BaselineSession:
    """Per-session baseline state and the hooks that report it."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.book = BaselineBook()
        self.update = bool(option(config, "trainspec_update_baselines"))
        self.is_worker = hasattr(config, "workerinput")

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        path = getattr(item, "path", None)
        if path is None:
            return
        names = self.book.collected.setdefault(str(path), [])
        name = plain_nodeid(item.name)
        if name not in names:
            names.append(name)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            self.config.workeroutput[OUTPUT_KEY] = self.book.to_json()  # type: ignore[attr-defined]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        text = summary(self.book, self.config.invocation_params.dir, self.update)
        if text:
            terminalreporter.write(text)


class XdistBaselineHooks:
    """Controller side under pytest-xdist: merge each worker's baseline book."""

    def __init__(self, session: BaselineSession):
        self.session = session

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get(OUTPUT_KEY)
        if data:
            self.session.book.merge(data)


def _relative(path: str | Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(book: BaselineBook, root: Path, update: bool) -> str:
    """The end-of-session lines (empty when there is nothing to say)."""
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    console = Console(file=out, width=200, highlight=False, color_system=None, soft_wrap=True,
                      markup=False)
    if book.written:
        console.print(f"trainspec baselines: {_plural(len(book.written), 'file')} written "
                      "(--trainspec-update-baselines):")
        for path, status in sorted(book.written):
            console.print(f"  {status:<9}  {_relative(path, root)}")
    if book.missing and not update:
        console.print(f"trainspec baselines: {_plural(len(book.missing), 'baseline')} missing; "
                      "record with: pytest --trainspec-update-baselines "
                      + " ".join(f'"{nodeid}"' for _, nodeid in sorted(set(book.missing))[:5]))
    unused = book.unused()
    if unused:
        console.print(f"trainspec baselines: {_plural(len(unused), 'file')} no spec used any "
                      "more (delete them if their specs are gone):")
        for path in unused:
            console.print(f"  {_relative(path, root)}")
    return out.getvalue()


def _session(config: pytest.Config) -> BaselineSession:
    plugin = config.pluginmanager.get_plugin("trainspec-baselines")
    if plugin is None:  # the plugin registers it in pytest_configure
        raise RuntimeError("trainspec's baseline session is not registered")
    return plugin


class BaselineFixture:
    """``baseline.check(run)`` compares a run with the baseline stored for this test.

    Example::

        @trainspec.applies_to(recipe)
        def test_trains_as_before(run, baseline):
            baseline.check(run)                                  # seed envelope, 5 seeds
            baseline.check(run, series=["loss"], mode="exact", name="bitwise")
    """

    def __init__(self, request: pytest.FixtureRequest):
        self._request = request
        self._calls = 0

    def path(self, name: str | None = None) -> Path:
        """The file of this test's baseline (``name``: a second, named check)."""
        item = self._request.node
        stem = safe_name(plain_nodeid(item.name))
        if name:
            stem += _SEP + safe_name(name)
        return folder_of(Path(item.path)) / f"{stem}.json"

    def check(self, run: Any, *, series: Any = None, mode: str | None = None,
              seeds: int | list[int] | None = None, margin: float | None = None,
              budget: float | None = None, rtol: float | None = None, atol: float | None = None,
              smoothing: int | None = None, name: str | None = None, recipe: Any = None) -> Any:
        """Check ``run`` against its baseline; record it under ``--trainspec-update-baselines``.

        ``series``: any of ``"loss"``, ``"metrics"``, ``"grad_norms"``, ``"val"`` or ``"all"``
        (default loss, metrics and gradient norms); ``mode``: ``"envelope"`` (default),
        ``"exact"`` or ``"close"`` (default when ``rtol``/``atol`` is given); ``seeds``: how many
        seeds the envelope is recorded with (default 5, ini ``trainspec_baseline_seeds``);
        ``margin`` and ``budget``: see :mod:`trainspec.baseline`.  Returns the comparison.
        """
        __tracebackhide__ = True
        from trainspec import baseline as lib
        from trainspec.exceptions import SpecFailure

        self._calls += 1
        if name is None and self._calls > 1:
            name = str(self._calls)
        path = self.path(name)
        session = _session(self._request.config)
        item = self._request.node
        nodeid = plain_nodeid(item.nodeid)
        groups = lib.parse_groups(series if series is not None else lib.DEFAULT_SERIES)
        chosen = lib.Mode(mode) if mode else (
            lib.Mode.CLOSE if rtol is not None or atol is not None else lib.Mode.ENVELOPE)
        n_seeds = seeds if seeds is not None else int(
            option(self._request.config, "trainspec_baseline_seeds") or lib.DEFAULT_SEEDS)
        kwargs = {"margin": lib.DEFAULT_MARGIN if margin is None else margin,
                  "budget": lib.DEFAULT_BUDGET if budget is None else budget,
                  "rtol": 1e-5 if rtol is None else rtol, "atol": 1e-8 if atol is None else atol}
        accept = f'pytest "{nodeid}" --trainspec-update-baselines'

        stored = None
        problem = None
        if path.exists():
            try:
                stored = lib.load(path)
            except lib.BaselineError as exc:
                problem = str(exc)
        if stored is not None and (stored.mode is not chosen or set(stored.groups) != set(groups)):
            problem = (f"{path} was recorded with mode {stored.mode} and series "
                       f"{', '.join(stored.groups)}; the spec asks mode {chosen} and series "
                       f"{', '.join(groups)}")
            stored = None
        comparison = None
        if stored is not None:
            comparison = stored.check(run, groups=groups, **kwargs)
            if comparison.ok or not session.update:
                if not comparison.ok:
                    exc = SpecFailure(comparison.message(accept=accept) + f"\n  baseline: {path}")
                    exc.details = {"baseline": str(path), **comparison.to_json()}  # type: ignore[attr-defined]
                    raise exc
                return comparison
        if not session.update:
            session.book.missing.append((str(path), nodeid))
            why = problem or f"no baseline at {path}"
            pytest.fail(f"trainspec baseline: {why}\n  record it with: {accept}", pytrace=False)
        source = recipe
        if source is None:
            target = item.stash.get(TARGET_KEY, None)
            if target is None:
                raise lib.BaselineError("baseline.check(run) needs the run's recipe: apply the "
                                        "spec with @trainspec.applies_to(recipe) or pass recipe=")
            source = target.recipe()
        recorded = lib.record(source, series=groups, mode=chosen, seeds=n_seeds,
                              smoothing=smoothing, run=run, spec=nodeid)
        existed = path.exists()
        recorded.dump(path)
        session.book.written.append((str(path), "rewritten" if existed else "new"))
        return recorded.check(run, groups=groups, **kwargs)


@pytest.fixture
def baseline(request: pytest.FixtureRequest) -> BaselineFixture:
    """Compare this spec's run with its stored trajectory baseline: ``baseline.check(run)``.

    Record or refresh baselines with ``pytest --trainspec-update-baselines``.
    """
    return BaselineFixture(request)


def register(config: pytest.Config) -> None:
    """Register the session hooks (and the xdist controller hook when xdist is loaded)."""
    session = BaselineSession(config)
    config.pluginmanager.register(session, "trainspec-baselines")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistBaselineHooks(session), "trainspec-baselines-xdist")
