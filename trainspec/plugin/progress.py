"""A one-line, self-erasing status of the run being trained, drawn after pytest's own output.

pytest captures file descriptor 1 while a test runs, so the status writes to a duplicate of the
terminal taken before capture starts.  It is drawn on the rest of the current line (never past
it, so nothing wraps) and erased exactly, leaving pytest's dots or ``PASSED`` words where they
were.  Short runs finish before the first draw and show nothing.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections.abc import Callable, Generator
from typing import IO

import pytest
from rich.console import Console
from rich.control import Control
from rich.segment import ControlType
from rich.text import Text

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
#: Seconds a run trains before its status appears (memo and cache hits never show).
SHOW_AFTER = 0.5
_REFRESH = 0.2
_MIN_ROOM = 16


class RunStatus:
    """Shows ``⠹ training <label> 120/300 steps 2.1s`` while a run trains.

    ``column`` says where pytest's current line ends; the status uses the rest of the line.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> status = RunStatus(out, width=80, column=lambda: 10, show_after=0, terminal=False)
        >>> status.update("mlp-fixed", 0, 300); status.draw(); status.stop()
        >>> "training mlp-fixed" in out.getvalue()
        True
    """

    def __init__(
        self,
        stream: IO[str],
        width: int,
        column: Callable[[], int],
        show_after: float = SHOW_AFTER,
        terminal: bool = True,
    ):
        self._console = Console(file=stream, width=width, force_terminal=terminal,
                                highlight=False, soft_wrap=True)
        self._width = width
        self._column = column
        self._show_after = show_after
        self._lock = threading.Lock()
        self._label: str | None = None
        self._done = 0
        self._total = 0
        self._started = 0.0
        self._drawn = 0
        self._frame = 0
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def update(self, label: str, done: int, total: int) -> None:
        """Record progress of ``label``; a new label restarts the clock."""
        with self._lock:
            if label != self._label:
                self._erase()
                self._label, self._started = label, time.perf_counter()
            self._done, self._total = done, total
        if self._thread is None:
            self._wake.clear()
            self._thread = threading.Thread(target=self._animate, name="trainspec-status",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Erase the status and stop drawing until the next ``update``."""
        thread, self._thread = self._thread, None
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            self._erase()
            self._label = None

    def draw(self) -> None:
        """Draw the status now (the animation thread calls this)."""
        with self._lock:
            if self._label is None:
                return
            elapsed = time.perf_counter() - self._started
            if elapsed < self._show_after:
                return
            room = self._width - self._column() - 1
            if room < _MIN_ROOM:
                return
            self._frame += 1
            text = Text(" ")
            text.append(_SPINNER[self._frame % len(_SPINNER)], style="cyan")
            text.append(f" training {self._label}", style="bold")
            text.append(f" {self._done}/{self._total} steps {elapsed:.1f}s", style="dim")
            text.truncate(room, overflow="ellipsis")
            self._erase()
            self._console.print(text, end="")
            self._drawn = text.cell_len
            self._console.file.flush()

    def _erase(self) -> None:
        if self._drawn:
            self._console.control(
                Control.move(x=-self._drawn), Control((ControlType.ERASE_IN_LINE, 0))
            )
            self._console.file.flush()
            self._drawn = 0

    def _animate(self) -> None:
        while not self._wake.wait(_REFRESH):
            self.draw()


class ProgressHooks:
    """pytest hooks that show a :class:`RunStatus` while specs train, on the controller's
    terminal only."""

    def __init__(self, stream: IO[str], width: int, column: Callable[[], int]):
        from trainspec import events

        self._events = events
        self._stream = stream
        self.status = RunStatus(stream, width, column)
        events.PROGRESS.append(self.status.update)
        events.LISTENERS.append(self._finished)

    def _finished(self, recipe: object, run: object) -> None:
        self.status.stop()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: object) -> Generator[None, object, object]:
        try:
            return (yield)
        finally:
            self.status.stop()

    def pytest_unconfigure(self) -> None:
        self.status.stop()
        for hooks, callback in ((self._events.PROGRESS, self.status.update),
                                (self._events.LISTENERS, self._finished)):
            if callback in hooks:
                hooks.remove(callback)
        self._stream.close()


def wanted(mode: str, config: pytest.Config) -> bool:
    """``on`` always; ``auto`` on an interactive terminal unless ``-q`` or an xdist worker."""
    if mode == "off" or hasattr(config, "workerinput"):
        return False
    if mode == "on":
        return True
    return sys.stdout.isatty() and config.get_verbosity() >= 0


def install(config: pytest.Config, mode: str) -> None:
    """Register the status display when ``mode`` (auto, on or off) asks for it."""
    if not wanted(mode, config):
        return
    try:
        writer = config.get_terminal_writer()
        # a duplicate of the terminal taken now, before pytest captures descriptor 1 per test
        stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", errors="replace")
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return  # no terminal reporter or no real stdout: nothing to draw on
    config.pluginmanager.register(
        ProgressHooks(stream, writer.fullwidth, lambda: writer.width_of_current_line),
        "trainspec-progress",
    )
