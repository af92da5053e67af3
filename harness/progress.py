"""What `harness check` (and a student kit) shows while checks run: which one, and for how long.

    with live_progress(sys.stderr, ids=[check.id for check in spec.checks]) as progress:
        api.check(path, lab, progress=progress)      # the runner calls progress(check, None) / (check, result)

On a terminal: one line, rewritten every half second (``[ 5/22] conv.speedup_forward  12.5 s``)
and erased when the run ends, so the report that follows stands alone. Elsewhere (a pipe, a CI log):
one plain line as each check starts, no control characters. ``mode="off"`` shows nothing.
Standard library only (no rich or tqdm: a kit needs only NumPy); `harness grade` keeps its own
display (OWNERSHIP.md).
"""
from __future__ import annotations

import contextlib
import threading
import time

MODES = ("auto", "live", "plain", "off")
TICK_SECONDS = 0.5


class _Progress:
    def __init__(self, stream, live: bool, enabled: bool, ids: list[str], prefix: str):
        self.stream, self.live, self.enabled = stream, live, enabled
        self.ids, self.prefix = list(ids), prefix
        self.current: str | None = None
        self.started = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, check, result=None) -> None:
        """``check`` starts (result None) or ended (its CheckResult)."""
        if not self.enabled:
            return
        with self._lock:
            if result is None:
                self.current, self.started = check.id, time.monotonic()
                if not self.live:
                    self._write(f"{self.prefix}{self._counter()}checking {check.id}\n")
            else:
                self.current = None
            if self.live:
                self._draw()

    def _counter(self) -> str:
        if self.current not in self.ids:
            return ""
        total = len(self.ids)
        return f"[{self.ids.index(self.current) + 1:>{len(str(total))}}/{total}] "

    def _draw(self) -> None:
        if self.current is None:
            self._write("\r\x1b[2K")
            return
        seconds = time.monotonic() - self.started
        self._write(f"\r\x1b[2K{self._counter()}{self.current}  {seconds:5.1f} s")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):        # a closed or broken stream: progress is never worth a failure
            self.enabled = False

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            with self._lock:
                if self.enabled and self.current is not None:
                    self._draw()

    def start(self) -> None:
        if self.enabled and self.live:
            self._thread = threading.Thread(target=self._tick, name="harness-progress", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.enabled and self.live:
            self._write("\r\x1b[2K")


@contextlib.contextmanager
def live_progress(stream, mode: str = "auto", ids: list[str] = (), prefix: str = "harness: "):
    """A progress callback for the runner; ``auto``: live on a terminal, plain lines otherwise.
    ``ids``: the checks of the run, in order (the counter); ``prefix`` starts each plain line."""
    if mode not in MODES:
        raise ValueError(f"progress mode must be one of {', '.join(MODES)}")
    is_terminal = bool(getattr(stream, "isatty", lambda: False)())
    live = mode == "live" or (mode == "auto" and is_terminal)
    progress = _Progress(stream, live, enabled=mode != "off", ids=ids, prefix=prefix)
    progress.start()
    try:
        yield progress
    finally:
        progress.stop()
