"""trainspec's pytest plugin: options, markers, the ``run`` fixture and the report hooks.

Registered through the ``pytest11`` entry point.  Wiring only: TensorFlow is imported when a
spec's run starts, never while pytest starts or collects.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from trainspec import events
from trainspec.exceptions import TrainspecError
from trainspec.expect import fail
from trainspec.observe import RUNS_KEY, TARGET_KEY, build_result, plain_nodeid
from trainspec.pairs import MARKER, Target, targets_of
from trainspec.report import render
from trainspec.results import PROPERTY, ResultBook, SpecResult, environment, write_json

_REPORT_MODES = ("full", "problems", "off")
_PROGRESS_MODES = ("auto", "on", "off")
_CACHE_MODES = ("on", "off", "read", "write")


def _add(group: Any, parser: pytest.Parser, name: str, help: str, ini_help: str,
         ini_default: Any = "", ini_type: Any = None, **kwargs: Any) -> None:
    """``--trainspec-<name>`` and its ini twin ``trainspec_<name>`` (read with :func:`option`:
    the command line wins)."""
    dest = f"trainspec_{name.replace('-', '_')}"
    group.addoption(f"--trainspec-{name}", dest=dest, default=None, help=f"{help} (ini: {dest}).",
                    **kwargs)
    parser.addini(dest, ini_help, type=ini_type, default=ini_default)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("trainspec", "trainspec: training specs")
    _add(group, parser, "json", "write every spec result as JSON to PATH",
         "write every spec result as JSON to this path", metavar="PATH")
    _add(group, parser, "report", "Rich report at the end: full (default; explains caught bugs "
         "too), problems (only misses, false alarms, errors and failures) or off",
         "full, problems or off", "full", choices=_REPORT_MODES)
    _add(group, parser, "mutate", "also run every spec applied to a pair on the mutants of the "
         "pair's fixed recipe and report which mutants each spec kills; never changes the exit "
         "status", "run specs on mutants of fixed recipes", False, "bool", action="store_true")
    _add(group, parser, "mutate-operators", "with --trainspec-mutate: the mutation operators to "
         "sample from, comma-separated, or all (default)",
         "mutation operators to sample from, or all", "all", metavar="NAMES")
    _add(group, parser, "mutate-max", "with --trainspec-mutate: operators per distinct fixed "
         "recipe, sampled with a seed from the recipe's name (default 2; 0 or all: every "
         "operator)", "mutation operators per fixed recipe (0: all)", "2", metavar="N")
    parser.addini("trainspec_doctor", "doctor thresholds, one 'name = value' per line",
                  type="linelist", default=[])
    _add(group, parser, "tensorboard", "write every run as TensorBoard event files under DIR, "
         "one directory per <pair>/<variant>", "write every run as TensorBoard event files here",
         metavar="DIR")
    _add(group, parser, "progress", "a self-erasing status line naming the run being trained and "
         "its steps: auto (default: on an interactive terminal unless -q), on or off",
         "auto, on or off", "auto", choices=_PROGRESS_MODES)
    _add(group, parser, "cache", "the on-disk run cache: on (default: use and write entries), "
         "off, read (use entries, never write) or write (always train, refresh entries)",
         "run cache: on, off, read or write", "on", choices=_CACHE_MODES)
    _add(group, parser, "cache-dir", "the run cache folder (default: $TRAINSPEC_CACHE_DIR, else "
         "the ini option, else .trainspec_cache in the rootdir)",
         "run cache folder, relative to the rootdir", metavar="DIR")
    group.addoption(
        "--trainspec-clear-cache",
        dest="trainspec_clear_cache",
        action="store_true",
        default=False,
        help="delete every run cache entry before the session starts.",
    )


def option(config: pytest.Config, name: str) -> Any:
    """A trainspec setting: the command-line value, else the ini value."""
    value = config.getoption(name, None)
    return value if value not in (None, "") else config.getini(name)


def _choice(config: pytest.Config, name: str, modes: tuple[str, ...]) -> str:
    """The setting ``name``, which must be one of ``modes`` (an ini value is not checked by
    argparse)."""
    value = option(config, name)
    if value not in modes:
        raise pytest.UsageError(f"{name} must be one of {', '.join(modes)}, not {value!r}")
    return value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*targets): apply this spec to trainspec pairs, sweeps or recipes "
        "(use @trainspec.applies_to).",
    )
    config.addinivalue_line(
        "markers",
        "trainspec(allow_nonfinite=False): per-spec trainspec options; allow_nonfinite lets a "
        "spec pass on a run that hit NaN/Inf.",
    )
    _choice(config, "trainspec_report", _REPORT_MODES)
    doctor = config.getini("trainspec_doctor")
    if doctor:
        from trainspec.diagnose import configure, parse_lines

        try:
            configure(**parse_lines(doctor))
        except ValueError as exc:
            raise pytest.UsageError(f"trainspec_doctor: {exc}") from None
    if option(config, "trainspec_mutate"):
        from trainspec.mutate import configure as configure_mutation

        configure_mutation(config, option(config, "trainspec_mutate_operators"),
                           option(config, "trainspec_mutate_max"))
    hooks = SessionHooks(config, _run_cache(config))
    config.pluginmanager.register(hooks, "trainspec-session")
    if config.pluginmanager.hasplugin("xdist"):
        _default_to_loadgroup(config)
        config.pluginmanager.register(XdistHooks(hooks), "trainspec-xdist")
    logdir = option(config, "trainspec_tensorboard")
    if logdir:
        from trainspec.tensorboard import TensorBoardHook

        config.pluginmanager.register(
            TensorBoardHook(config.invocation_params.dir / logdir), "trainspec-tensorboard"
        )


def _run_cache(config: pytest.Config) -> Any:
    """The session's disk cache (installed even when off, so it shadows an outer session's)."""
    from trainspec.cache import RunCache, resolve_dir

    mode = _choice(config, "trainspec_cache", _CACHE_MODES)
    directory = resolve_dir(config.getoption("trainspec_cache_dir", None),
                            config.getini("trainspec_cache_dir"), config.rootpath,
                            config.invocation_params.dir)
    cache = RunCache(directory, mode)
    if config.getoption("trainspec_clear_cache", False) and not hasattr(config, "workerinput"):
        cache.clear()  # on the controller, before any worker starts
    return cache.install()


def _dist_given(config: pytest.Config) -> bool:
    """Whether the user chose an xdist distribution mode (command line, PYTEST_ADDOPTS, ini)."""
    import os
    import shlex

    words = list(config.invocation_params.args)
    words += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    try:
        words += list(config.getini("addopts"))
    except (ValueError, KeyError):
        pass
    return any(str(w) in ("-d", "--distload") or str(w).startswith("--dist") for w in words)


def _default_to_loadgroup(config: pytest.Config) -> None:
    """``-n N`` without ``--dist``: xdist would balance test by test; trainspec asks for
    ``loadgroup`` so the specs of one run (one ``xdist_group``) share a worker and the run trains
    once."""
    if getattr(config, "workerinput", {}).get("trainspec_loadgroup"):
        # workers re-parse the command line (dist "no"): the @group node ids need this flag
        config.option.loadgroup = True
    elif getattr(config.option, "dist", "no") == "load" and not _dist_given(config):
        config.option.dist = "loadgroup"


def pytest_sessionstart(session: pytest.Session) -> None:
    mode = _choice(session.config, "trainspec_progress", _PROGRESS_MODES)
    from trainspec.progress import install

    install(session.config, mode)


def pytest_report_header(config: pytest.Config) -> list[str]:
    env = environment()
    lines = [
        f"trainspec {env['trainspec']}: tensorflow {env['tensorflow']}, keras {env['keras']} "
        "(imported when the first run starts); each recipe sets its own seed"
    ]
    hooks = config.pluginmanager.get_plugin("trainspec-session")
    cache = getattr(hooks, "cache", None)
    if cache is not None:
        lines.append(f"trainspec run cache: {cache.mode} ({cache.directory})")
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    if "run" not in metafunc.fixturenames:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: a spec applied to pairs or recipes must take a "
            "`run` argument"
        )
    xdist = metafunc.config.pluginmanager.hasplugin("xdist")
    targets = targets_of(marker.args)
    if option(metafunc.config, "trainspec_mutate"):
        from trainspec.mutate import SELECTION_KEY, mutant_targets

        targets += mutant_targets(marker.args, metafunc.config.stash.get(SELECTION_KEY, None))
    params = [
        pytest.param(target, id=target.id, marks=_marks(target, xdist))
        for target in targets
    ]
    metafunc.parametrize("run", params, indirect=True)


def _marks(target: Target, xdist: bool) -> list[Any]:
    marks: list[Any] = []
    if target.kind == "mutant":
        from trainspec.mutate import marks as mutant_marks

        return mutant_marks(target, xdist)
    if target.kind == "pair" and target.variant == "broken":
        # The spec must fail on the broken model: a pass is a miss (strict XPASS fails the
        # session), an error other than an assertion stays an error.
        marks.append(
            pytest.mark.xfail(
                strict=True,
                raises=AssertionError,
                reason=f"MISSED: the spec passed on the broken model of pair {target.group!r}; "
                "it should fail there",
            )
        )
    if xdist:  # specs sharing a run land on one worker under --dist loadgroup
        marks.append(pytest.mark.xdist_group(f"trainspec:{target.id}"))
    return marks


@pytest.fixture
def run(request: pytest.FixtureRequest) -> Any:
    """The finished :class:`trainspec.Run` of the recipe this spec is applied to.

    Apply the spec with ``@trainspec.applies_to(pair_or_recipe)``, or define a ``recipe``
    fixture returning a :class:`trainspec.Recipe`.
    """
    target: Target | None = getattr(request, "param", None)
    if target is None:
        try:
            recipe = request.getfixturevalue("recipe")
        except pytest.FixtureLookupError:
            raise TrainspecError(
                "the `run` fixture needs a recipe: decorate the spec with "
                "@trainspec.applies_to(pair_or_recipe) or define a `recipe` fixture"
            ) from None
        from trainspec.recipe import Recipe

        if not isinstance(recipe, Recipe):
            raise TrainspecError(
                f"the `recipe` fixture returned {type(recipe).__name__}, not a trainspec.Recipe"
            )
        target = Target("recipe", recipe.label, "recipe", recipe)
    request.node.stash[TARGET_KEY] = target
    from trainspec import train

    return train(target.recipe())


class SessionHooks:
    """Per-session state: the runs each spec trains and every spec's result."""

    #: Sessions with an item running, innermost last (pytester nests sessions in one process):
    #: a run belongs to the innermost one only.
    _active: list[SessionHooks] = []

    def __init__(self, config: pytest.Config, cache: Any = None):
        self.config = config
        self.book = ResultBook()
        self.is_worker = hasattr(config, "workerinput")
        self.cache = cache
        #: every run this session used, by fingerprint: True when it came from the disk cache
        self.runs: dict[str, bool] = {}
        #: node ids in collection order (the report and JSON follow it, with or without xdist)
        self.order: dict[str, int] = {}
        self._current: list[Any] | None = None
        events.LISTENERS.append(self._on_run)

    def _on_run(self, recipe: Any, run: Any) -> None:
        if SessionHooks._active[-1:] == [self]:
            self.add_run(run.fingerprint, bool(run.from_cache))
            if self._current is not None:
                self._current.append(run)

    def add_run(self, fingerprint: str, from_cache: bool) -> None:
        """A run is counted as trained when any process trained it."""
        self.runs[fingerprint] = self.runs.get(fingerprint, True) and from_cache

    def set_order(self, nodeids: list[str]) -> None:
        if not self.order:
            self.order = {plain_nodeid(n): i for i, n in enumerate(nodeids)}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.set_order([item.nodeid for item in session.items])

    def session_data(self) -> dict[str, Any]:
        """What a worker sends the controller at the end (``workeroutput``)."""
        return {"runs": dict(self.runs),
                "cache": self.cache.stats.to_json() if self.cache is not None else None}

    def merge(self, data: dict[str, Any]) -> None:
        for fingerprint, from_cache in (data.get("runs") or {}).items():
            self.add_run(fingerprint, bool(from_cache))
        if self.cache is not None and data.get("cache"):
            self.cache.stats.merge(data["cache"])

    def _finish_book(self) -> None:
        self.book.sort(self.order)
        self.book.runs = dict(self.runs)
        if self.cache is not None:
            self.book.cache = {"mode": str(self.cache.mode), "dir": str(self.cache.directory),
                               **self.cache.stats.to_json()}

    @staticmethod
    def _is_spec(item: pytest.Item) -> bool:
        """A spec is a test that receives a ``run``; other tests may train but are not
        reported."""
        return TARGET_KEY in item.stash or "run" in getattr(item, "fixturenames", ())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, Any]:
        item.stash[RUNS_KEY] = self._current = []
        SessionHooks._active.append(self)
        try:
            return (yield)
        finally:
            SessionHooks._active.remove(self)
            self._current = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        result = yield
        if not self._is_spec(item):
            return result
        marker = item.get_closest_marker("trainspec")
        if marker is not None and marker.kwargs.get("allow_nonfinite"):
            return result
        for finished in item.stash.get(RUNS_KEY, []):
            if finished.nonfinite is not None:
                __tracebackhide__ = True
                nf = finished.nonfinite
                raise fail(
                    "the run diverged", measured=str(nf), required="finite values at every step",
                    series=finished.loss, where=f"step {nf.step}, {nf.tensor}", run=finished,
                    note="the spec passed on what was recorded before the divergence; mark it "
                    "@pytest.mark.trainspec(allow_nonfinite=True) if divergence is expected",
                )
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        if not self._is_spec(item):
            return report
        if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
            result = build_result(item, call.excinfo, call.duration)
            report.user_properties.append((PROPERTY, result.to_json()))
        if call.excinfo is not None and isinstance(call.excinfo.value, TrainspecError):
            # a readable paragraph instead of a traceback through Keras and trainspec
            report.longrepr = f"{item.nodeid}\ntrainspec: {call.excinfo.value}"
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == PROPERTY:
                self.book.add(SpecResult.from_json(value))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and report.nodeid not in {
            e["nodeid"] for e in self.book.collection_errors
        }:
            self.book.add_collection_error(report.nodeid or "<session>", str(report.longrepr))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        self._finish_book()
        writer = self.config.get_terminal_writer()
        text = render(
            self.book,
            option(self.config, "trainspec_report"),
            width=max(80, writer.fullwidth),
            color=writer.hasmarkup,
        )
        if text:
            terminalreporter.write(text)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            self.config.workeroutput[PROPERTY] = self.session_data()  # type: ignore[attr-defined]
            return
        path = option(self.config, "trainspec_json")
        if not path:
            return
        self._finish_book()
        target = Path(path)
        if not target.is_absolute():
            target = self.config.invocation_params.dir / target
        write_json(self.book, target, int(exitstatus))

    def pytest_unconfigure(self) -> None:
        if self._on_run in events.LISTENERS:
            events.LISTENERS.remove(self._on_run)
        if self.cache is not None:
            self.cache.uninstall()


class XdistHooks:
    """Controller-side pytest-xdist hooks, registered only when xdist is loaded: the collection
    order and each worker's session data (runs trained or loaded, cache counts)."""

    def __init__(self, hooks: SessionHooks):
        self.hooks = hooks

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["trainspec_loadgroup"] = self.hooks.config.option.dist == "loadgroup"

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.hooks.set_order(list(ids))

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get(PROPERTY)
        if data:
            self.hooks.merge(data)
