"""Progress of long computations on standard error: derivations, kernel generation, checks.

A task (:func:`task`) is a computation that may take a while. While it runs, one line
``symcnn <label>: <state> (<seconds> s)`` says where it is, e.g. ``symcnn derive
fourier-explicit: step 11 conserved quantity (8.1 s)`` or ``symcnn check decoupling:
instance 2/3 (1.4 s)``:

- a task that ends within :data:`DELAY` seconds prints nothing;
- on a terminal the line is redrawn in place, at most every :data:`INTERVAL` seconds, and
  its clock keeps running during a long step; elsewhere (a pipe, a log) each new step is a
  new line, at most one per :data:`INTERVAL` seconds (the latest state wins);
- once shown, a task ends with a line holding its result and its time.

:func:`update` reports to the innermost task, so code deep inside one (each step of a
:class:`~symcnn.symbolic.derivation.Derivation`) needs no reporter passed down; outside
any task it does nothing. A task opened inside another is shown on its parent's line
(``symcnn check closed form: proof: step 4 dsolve (2.1 s)``). :func:`note` prints a line
at once. :func:`quiet` silences all of it in its context (the commands' ``--quiet``);
errors and results are not progress and are never silenced. Standard library only.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DELAY = 1.0
"""Seconds a task runs before its line is first shown."""
INTERVAL = 0.25
"""Least seconds between two lines (or two redraws on a terminal)."""
TICK = 0.05
"""Seconds between two looks of the background thread that keeps a line current."""

_QUIET: ContextVar[bool] = ContextVar("symcnn_progress_quiet", default=False)
_CURRENT: ContextVar[Task | None] = ContextVar("symcnn_progress_task", default=None)


@contextmanager
def quiet(silent: bool = True) -> Iterator[None]:
    """Silence progress and notes in this context (if ``silent``; never un-silences)."""
    token = _QUIET.set(_QUIET.get() or bool(silent))
    try:
        yield
    finally:
        _QUIET.reset(token)


@contextmanager
def task(label: str, total: float | None = None, unit: str = "step") -> Iterator[Task]:
    """Run the body as a :class:`Task` named ``label`` (shown as ``symcnn <label>``), of
    ``total`` units (None: unknown) called ``unit`` (``""``: no count shown). Set the
    task's ``result`` for its last line."""
    current = Task(label, total, unit, _CURRENT.get())
    token = _CURRENT.set(current)
    try:
        yield current
    except BaseException as error:
        current.result = f"stopped by {type(error).__name__}"
        raise
    finally:
        _CURRENT.reset(token)
        current.close()


def update(detail: str = "", done: float | None = None) -> None:
    """:meth:`Task.update` of the innermost task, if any."""
    current = _CURRENT.get()
    if current is not None:
        current.update(detail, done)


def note(message: str) -> None:
    """``symcnn: message`` on standard error now (unless quiet), above a task's line."""
    if _QUIET.get():
        return
    current = _CURRENT.get()
    line = current.root.line if current is not None else None
    if line is not None:
        line.write(f"symcnn: {message}")
    else:
        _write(sys.stderr, f"symcnn: {message}\n")


class Task:
    """A running task: ``done`` units of ``total`` (or steps started), the current
    ``detail``, and the innermost task opened inside it (``child``). The outermost one, the
    ``root``, owns the :class:`_Line` (None when quiet)."""

    def __init__(self, label: str, total: float | None, unit: str, parent: Task | None):
        self.label, self.total, self.unit, self.parent = label, total, unit, parent
        self.done, self.detail, self.child, self.result = 0, "", None, "done"
        self.start = time.monotonic()
        self.root = self if parent is None else parent.root
        if parent is not None:
            parent.child = self
        self.line = _Line(self) if parent is None and not _QUIET.get() else None
        if self.root.line is not None:
            self.root.line.refresh(True)

    def update(self, detail: str = "", done: float | None = None) -> None:
        """The next step (``done`` None: one more unit) or ``done`` units so far, now doing
        ``detail``. Away from a terminal only a next step, or a new tenth of ``total``,
        makes a new line."""
        news = done is None or (bool(self.total) and int(10 * done / self.total)
                                != int(10 * self.done / self.total))
        self.done, self.detail = self.done + 1 if done is None else done, detail
        if self.root.line is not None:
            self.root.line.refresh(news)

    def state(self) -> str:
        """``<unit> <done>[/<total>] <detail>``, the count left out before the first unit
        or without a unit."""
        count = ""
        if self.unit and self.done:
            count = f"{self.unit} {self.done:g}" + (f"/{self.total:g}" if self.total else "")
        return " ".join(part for part in (count, self.detail) if part)

    def text(self, result: str | None = None) -> str:
        """The line: the label and the state of this task and of every task inside it (or
        ``result``), and the time."""
        parts = [f"symcnn {self.label}", self.state() if result is None else result]
        inner = self.child if result is None else None
        while inner is not None:
            parts += [inner.label, inner.state()]
            inner = inner.child
        return ": ".join(p for p in parts if p) + f" ({time.monotonic() - self.start:.1f} s)"

    def close(self) -> None:
        """End the task: off its parent's line, or its own line's last one."""
        if self.parent is not None:
            self.parent.child = None
            if self.root.line is not None:
                self.root.line.refresh(False)
        elif self.line is not None:
            self.line.close(self.text(self.result))


class _Line:
    """The line of a root task on standard error: throttled, redrawn on a terminal, kept
    current by a background thread during long steps."""

    def __init__(self, owner: Task):
        self.owner, self.stream = owner, sys.stderr
        self.tty = _isatty(self.stream)
        self.lock = threading.RLock()
        self.shown, self.news, self.last = False, True, float("-inf")
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="symcnn-progress", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stopped.wait(TICK):
            self.refresh(False)

    def refresh(self, news: bool) -> None:
        """Show the task's state if it is time: after :data:`DELAY`, at most every
        :data:`INTERVAL`, and away from a terminal only if there is news."""
        with self.lock:
            self.news = self.news or news
            now = time.monotonic()
            if (now - self.owner.start < DELAY or now - self.last < INTERVAL
                    or not (self.tty or self.news)):
                return
            self._draw(self.owner.text(), "" if self.tty else "\n")
            self.shown, self.news, self.last = True, False, now

    def write(self, text: str) -> None:
        """A line of its own, then the task's line again (on a terminal)."""
        with self.lock:
            redraw = self.tty and self.shown
            _write(self.stream, ("\r\x1b[K" if redraw else "") + text + "\n")
            if redraw:
                self._draw(self.owner.text(), "")

    def close(self, text: str) -> None:
        """Stop the thread; if anything was shown, end with ``text``."""
        self.stopped.set()
        self.thread.join()
        with self.lock:
            if self.shown:
                self._draw(text, "\n")

    def _draw(self, text: str, end: str) -> None:
        if self.tty:
            width = shutil.get_terminal_size().columns - 1
            text = f"\r{text[:width]}\x1b[K"
        _write(self.stream, text + end)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def _write(stream, text: str) -> None:
    """Write and flush; a stream that fails (closed, a broken pipe) never stops the work."""
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        pass
