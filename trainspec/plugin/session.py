"""Session state and the hooks that collect it: which runs each spec used, every spec's
result, the report at the end and the JSON file; on pytest-xdist, what workers send the
controller."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from trainspec import events
from trainspec.exceptions import TrainspecError
from trainspec.expect import fail
from trainspec.plugin.keys import RUNS_KEY, STUDENT_KEY, TARGET_KEY
from trainspec.plugin.observe import build_result, plain_nodeid
from trainspec.plugin.options import option
from trainspec.plugin.report import render
from trainspec.plugin.results import PROPERTY, ResultBook, SpecResult, write_json


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
        #: called with (result, report) as each result arrives (the JUnit properties use it)
        self.listeners: list[Any] = []
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
        """A spec is a test that receives a ``run``: a run that diverged fails it (other tests
        may train without that check)."""
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
        if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
            # every collected test has a result (tests without a run are kind "plain"); it
            # rides on the report as a JSON-able attribute, so it reaches the xdist controller
            # and stays out of JUnit XML's user properties
            result = build_result(item, call.excinfo, call.duration)
            result.expected_failure = bool(getattr(report, "wasxfail", None)) and (
                result.kind != "pair")
            setattr(report, PROPERTY, result.to_json())
        if call.excinfo is not None and isinstance(call.excinfo.value, TrainspecError):
            # a readable paragraph instead of a traceback through Keras and trainspec
            report.longrepr = f"{item.nodeid}\ntrainspec: {call.excinfo.value}"
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, PROPERTY, None)
        if isinstance(data, dict):
            result = SpecResult.from_json(data)
            self.book.add(result)
            for listener in self.listeners:
                listener(result, report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and report.nodeid not in {
            e["nodeid"] for e in self.book.collection_errors
        }:
            self.book.add_collection_error(report.nodeid or "<session>", str(report.longrepr))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        if self.config.stash.get(STUDENT_KEY, False):
            return  # student mode prints its own view (trainspec.plugin.student)
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
        import os

        if os.environ.get("GITHUB_STEP_SUMMARY") or os.environ.get("GITHUB_ACTIONS") == "true":
            from trainspec.plugin.github import report_to_github

            report_to_github(self.book, terminalreporter.write_line)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            self.config.workeroutput[PROPERTY] = self.session_data()  # type: ignore[attr-defined]
            return
        self._finish_book()
        path = option(self.config, "trainspec_json")
        if path:
            target = self._output(path)
            try:
                write_json(self.book, target, int(exitstatus))
            except (OSError, ValueError) as exc:  # the report and the exit status are kept
                _warn_output(f"cannot write the JSON results to {target}: {exc}")
        html = option(self.config, "trainspec_html")
        if html:
            from trainspec.plugin.html import write_html

            target = self._output(html)
            try:
                write_html(self.book, target)
            except (OSError, ValueError) as exc:  # each output is independent of the others
                _warn_output(f"cannot write the HTML report to {target}: {exc}")

    def _output(self, path: str) -> Path:
        """An output path, relative to the directory pytest was started in."""
        target = Path(path)
        return target if target.is_absolute() else self.config.invocation_params.dir / target

    def pytest_unconfigure(self) -> None:
        if self._on_run in events.LISTENERS:
            events.LISTENERS.remove(self._on_run)
        if self.cache is not None:
            self.cache.uninstall()


class OutputWarning(UserWarning):
    """An output file (JSON results) could not be written; the report and exit status stand."""


def _warn_output(message: str) -> None:
    import warnings

    try:  # -W error must not turn a lost output into an internal error
        warnings.warn(OutputWarning(message), stacklevel=2)
    except Warning:
        pass


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
