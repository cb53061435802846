"""A spec that kills its pytest-xdist worker (``os._exit``, a segfault in TensorFlow, the
out-of-memory killer) is recorded as an error naming the crash, its pair's verdict is "error",
and the session ends.

pytest-xdist reports the crash as a bare failed report with none of trainspec's data, so the
spec was missing from the report and the JSON and its pair read "incomplete".  Under
``--dist loadgroup`` it is worse: xdist puts the crashed spec's whole group back in the queue,
crashed spec included, so every replacement worker runs it and crashes again until the restart
limit (and the group's later specs may never run).  Here:

- each worker writes, once collected, which pair side or sweep point each of its items runs on
  (a JSON file in a folder the controller made), since the controller collects nothing;
- ``pytest_handlecrashitem`` on the controller turns the crash report into an error carrying a
  :class:`~trainspec.plugin.results.SpecResult`, marks the spec done in xdist's queue and adds it
  to a ``crashed`` file the workers read;
- a worker asked to run a spec listed there skips it (and that second report is left out of the
  results), so a crash happens once per spec.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from trainspec.constants import Outcome
from trainspec.environment import write_atomic
from trainspec.plugin.observe import plain_nodeid
from trainspec.plugin.results import PROPERTY, SpecResult

_CRASHED = "crashed.txt"


def _target_of(item: pytest.Item) -> Any:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("run") if callspec is not None else None


class CrashHooks:
    """Registered on the controller and on every worker when pytest-xdist is loaded."""

    def __init__(self, config: pytest.Config):
        self.config = config
        workerinput = getattr(config, "workerinput", None)
        self.is_worker = workerinput is not None
        if self.is_worker:
            folder = workerinput.get("trainspec_crash_dir")
            self.folder = Path(folder) if folder else None
        else:
            self.folder = None  # made when the first worker is configured
        self.crashed: set[str] = set()

    # -- controller --------------------------------------------------------------------------

    def pytest_configure_node(self, node: Any) -> None:
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="trainspec-xdist-"))
        node.workerinput["trainspec_crash_dir"] = str(self.folder)

    def _targets(self) -> dict[str, list[Any]]:
        known: dict[str, list[Any]] = {}
        for path in sorted(self.folder.glob("targets-*.json")) if self.folder else []:
            try:
                known.update(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return known

    def pytest_handlecrashitem(self, crashitem: str, report: Any, sched: Any) -> None:
        worker = getattr(getattr(getattr(report, "node", None), "gateway", None), "id", "?")
        nodeid = plain_nodeid(crashitem)
        message = (f"the pytest-xdist worker {worker} running this spec crashed (the process ended "
                   "without a report: os._exit, a segmentation fault, the out-of-memory killer "
                   "or a signal); recorded as an error, the other specs go on")
        kind, group, variant = self._targets().get(nodeid, ("plain", None, None))
        result = SpecResult(nodeid=nodeid, spec=nodeid.split("[", 1)[0], kind=kind, group=group,
                            variant=variant, outcome=Outcome.ERROR.value, message=message)
        setattr(report, PROPERTY, result.to_json())  # as session.py attaches results
        report.longrepr = f"{nodeid}\ntrainspec: {message}"
        report.when = "setup"  # counted as an error, as a spec that raised
        report.trainspec_crash = True
        self.crashed.add(crashitem)
        _mark_done(sched, crashitem)
        if self.folder is not None:
            try:
                write_atomic(self.folder / _CRASHED, "\n".join(sorted(self.crashed)) + "\n")
            except OSError:
                pass

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A crashed spec's later report (its skip on another worker) is not a second result."""
        if report.nodeid in self.crashed and not getattr(report, "trainspec_crash", False):
            if hasattr(report, PROPERTY):
                delattr(report, PROPERTY)

    def pytest_unconfigure(self) -> None:
        if not self.is_worker and self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- worker ------------------------------------------------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.is_worker or self.folder is None:
            return
        targets = {}
        for item in session.items:
            target = _target_of(item)
            if target is not None and hasattr(target, "kind"):
                targets[plain_nodeid(item.nodeid)] = [target.kind, target.group, target.variant]
        worker = self.config.workerinput.get("workerid", "gw")
        try:
            write_atomic(self.folder / f"targets-{worker}.json", json.dumps(targets))
        except OSError:
            pass

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if not self.is_worker or self.folder is None:
            return
        try:
            crashed = (self.folder / _CRASHED).read_text().split()
        except OSError:
            return
        if item.nodeid in crashed:
            pytest.skip("this spec crashed a worker already; recorded there as an error")


def _mark_done(sched: Any, nodeid: str) -> None:
    """Keep xdist's ``loadscope``/``loadgroup`` scheduler from running the crashed spec again:
    it puts the spec's whole group back in its queue with the spec marked not completed."""
    queue = getattr(sched, "workqueue", None)
    units = list(queue.values()) if isinstance(queue, dict) else []
    for assigned in getattr(sched, "assigned_work", {}).values():
        units += list(assigned.values())
    for unit in units:
        if isinstance(unit, dict) and nodeid in unit:
            unit[nodeid] = True
    if isinstance(queue, dict):  # a group left with nothing to run must not be sent out
        for scope in [s for s, unit in queue.items() if isinstance(unit, dict) and all(unit.values())]:
            del queue[scope]
