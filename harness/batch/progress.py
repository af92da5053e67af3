"""What `harness grade` shows while a batch runs, on stderr.

On a terminal, one line rewritten twice a second: done out of total, the submissions being graded and
for how long, and an ETA from the pace so far (the median time per submission over the workers):

    [ 12/100] 2 running: 张三 (14 s), alice smith (3 s)  ·  ETA 6 min

Elsewhere (a pipe, a CI log) one plain line per finished submission, no control characters:

    [ 12/100] 张三: 70/100, level 0 (graded) in 14.2 s

Standard library only, in the style of harness.progress (which `harness check` uses); ``mode="off"``
shows nothing.
"""
from __future__ import annotations

import shutil
import statistics
import threading
import time
from typing import Callable

from .status import LABELS

MODES = ("auto", "live", "plain", "off")
TICK_SECONDS = 0.5
MAX_NAMES = 3


class BatchProgress:
    """Call ``started(task)`` and ``finished(task, outcome)`` from the coordinator; ``running`` lists the tasks
    being graded (the executor's view)."""

    def __init__(self, stream, total: int, mode: str = "auto", running: Callable[[], list] = list, jobs: int = 1,
                 prefix: str = ""):
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {', '.join(MODES)}")
        is_terminal = bool(getattr(stream, "isatty", lambda: False)())
        self.stream, self.total, self.jobs, self.prefix = stream, total, max(jobs, 1), prefix
        self.live = mode == "live" or (mode == "auto" and is_terminal)
        self.enabled = mode != "off"
        self.running = running
        self.done = 0
        self.started_at: dict[str, float] = {}
        self.durations: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "BatchProgress":
        if self.enabled and self.live:
            self._thread = threading.Thread(target=self._tick, name="harness-batch-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.enabled and self.live:
            self._write("\r\x1b[2K")

    def started(self, task) -> None:
        with self._lock:
            self.started_at[task.id] = time.monotonic()

    def finished(self, task, outcome: dict) -> None:
        with self._lock:
            began = self.started_at.pop(task.id, None)
            seconds = time.monotonic() - began if began is not None else outcome.get("wall_seconds")
            if seconds is not None:
                self.durations.append(seconds)
            self.done += 1
            if not self.enabled:
                return
            if self.live:
                self._draw()
            else:
                self._write(f"{self.prefix}{self._counter()} {self._summary(task, outcome, seconds)}\n")

    def eta_seconds(self) -> float | None:
        """Remaining submissions times the median time per submission, over the workers; None before any ended."""
        if not self.durations:
            return None
        return (self.total - self.done) * statistics.median(self.durations) / self.jobs

    def _counter(self) -> str:
        width = len(str(self.total))
        return f"[{self.done:>{width}}/{self.total}]"

    @staticmethod
    def _summary(task, outcome: dict, seconds: float | None) -> str:
        status = outcome.get("status", "graded")
        if outcome.get("score") is not None:
            level = f", level {outcome['level']}" if outcome.get("level") is not None else ""
            text = f"{task.id}: {outcome['score']:g}/{outcome['max_score']:g}{level} ({LABELS.get(status, status)})"
        else:
            text = f"{task.id}: {LABELS.get(status, status)}: {outcome.get('reason', '')}"
        return text + (f" in {seconds:.1f} s" if seconds is not None else "")

    def _draw(self) -> None:
        now = time.monotonic()
        try:
            running = list(self.running())
        except Exception:          # the executor's view is a nicety
            running = []
        names = [f"{task.id} ({now - self.started_at[task.id]:.0f} s)" if task.id in self.started_at else task.id
                 for task in running[:MAX_NAMES]]
        more = f" and {len(running) - MAX_NAMES} more" if len(running) > MAX_NAMES else ""
        line = f"{self.prefix}{self._counter()}"
        if running:
            line += f" {len(running)} running: {', '.join(names)}{more}"
        eta = self.eta_seconds()
        if eta is not None and self.done < self.total:
            line += f"  ·  ETA {_duration(eta)}"
        self._write(f"\r\x1b[2K{_fit(line)}")

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            with self._lock:
                if self.enabled:
                    self._draw()

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):          # a closed stream: progress is never worth a failure
            self.enabled = False


def _fit(line: str) -> str:
    """The line cut to the terminal's width (wide CJK characters count two columns): a wrapped line would
    not be rewritten in place."""
    import unicodedata
    width, used = shutil.get_terminal_size((100, 20)).columns - 1, 0
    for index, character in enumerate(line):
        used += 2 if unicodedata.east_asian_width(character) in "WF" else 1
        if used > width:
            return line[:max(index - 1, 0)] + "…"
    return line


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
