"""``--trainspec-timeout SECONDS``: a spec (with the run it trains) that does not finish in time
ends as an error, and the session goes on to its report.

How it interrupts: a ``SIGALRM`` timer on the main thread, whose handler raises
:class:`~trainspec.exceptions.TrainspecTimeout` where the spec is (a ``time.sleep``, a Python
loop, or between two chunks of a TensorFlow run: the engine returns to Python every few
hundred steps, so a long run stops at the next chunk).  The exception is raised only while the
item's setup, call or teardown runs, never inside pytest's own reporting.  A run stuck inside one
TensorFlow operation cannot be interrupted from Python: a moment after the deadline
:mod:`faulthandler` prints every thread's stack to stderr, so the hang is at least located.
Needs ``signal.setitimer`` (POSIX) and the main thread; elsewhere the option warns and does
nothing.

Example::

    pytest specs/ --trainspec-timeout 120
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import sysconfig
import threading
import traceback
import warnings
from collections.abc import Generator
from typing import Any

import pytest

from trainspec.exceptions import TrainspecTimeout

#: Frames from these folders are not the user's: the standard library, installed packages,
#: trainspec itself.
_TRAINSPEC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
                 | {_TRAINSPEC})

#: Seconds after the deadline at which stacks are dumped if the spec is still running.
DUMP_GRACE = 10.0


def parse(value: Any) -> float | None:
    """The timeout in seconds (``None``: no timeout); ``UsageError`` for anything else.

    Example:
        >>> parse("2.5"), parse(""), parse("0")
        (2.5, None, None)
    """
    if value in (None, ""):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"trainspec_timeout must be a number of seconds, not {value!r}") from None
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise pytest.UsageError(f"trainspec_timeout must be a finite number >= 0, not {value!r}")
    return seconds or None


class TimeoutHook:
    """pytest plugin object: arms the timer for each item, disarms it after."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.item: Any = None
        self.active = False  # inside setup/call/teardown of the item
        self.expired = False  # the deadline passed outside a phase: raise at the next one
        self.fired = False  # raised once for this item
        self._previous: Any = None

    @staticmethod
    def usable() -> bool:
        return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()

    def _message(self, frame: Any) -> str:
        where = ""
        if frame is not None:
            stack = traceback.extract_stack(frame)
            user = [f for f in stack if not f.filename.startswith(_LIBRARY)]
            if user:
                last = user[-1]
                where = f"; it was at {last.filename}:{last.lineno} in {last.name}"
            if any(f.filename.startswith(_TRAINSPEC) for f in stack):
                where += "; a run was training (a long run stops between two chunks of steps)"
        return (f"{self.item.nodeid if self.item is not None else 'the spec'} did not finish "
                f"within {self.seconds:g} s (--trainspec-timeout){where}")

    def _alarm(self, signum: int, frame: Any) -> None:
        if self.fired:
            return
        if not self.active:
            self.expired = True
            return
        self.fired = True
        raise TrainspecTimeout(self._message(frame))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, Any]:
        self.item, self.active, self.expired, self.fired = item, False, False, False
        self._previous = signal.signal(signal.SIGALRM, self._alarm)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        try:
            faulthandler.dump_traceback_later(self.seconds + DUMP_GRACE, exit=False,
                                              file=sys.__stderr__)
        except (RuntimeError, ValueError, AttributeError, OSError):
            pass  # no usable stderr: no stack dump
        try:
            return (yield)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            faulthandler.cancel_dump_traceback_later()
            signal.signal(signal.SIGALRM, self._previous or signal.SIG_DFL)
            self.item = None

    def _phase(self) -> Generator[None, Any, Any]:
        if self.expired and not self.fired:
            self.fired = True
            raise TrainspecTimeout(self._message(None))
        self.active = True
        try:
            return (yield)
        finally:
            self.active = False

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, Any]:
        return (yield from self._phase())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        return (yield from self._phase())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, Any]:
        return (yield from self._phase())


def install(config: pytest.Config, value: Any) -> None:
    """Register the timeout when ``--trainspec-timeout`` (or ``trainspec_timeout``) is set."""
    seconds = parse(value)
    if seconds is None:
        return
    if not TimeoutHook.usable():
        warnings.warn(UserWarning(
            "--trainspec-timeout needs signal.setitimer and pytest on the main thread; ignored"
        ), stacklevel=2)
        return
    config.pluginmanager.register(TimeoutHook(seconds), "trainspec-timeout")
