"""One long-lived thread of the parent starts every sandbox child.

Why: bubblewrap's --die-with-parent is PR_SET_PDEATHSIG, which fires when the
*thread* that forked bwrap exits, not the process. A child started from a
short-lived thread (a worker of a thread pool, a test's helper thread) would be
killed when that thread ends, mid-check. Starting every child from this thread,
which lives as long as the process, makes the signal fire exactly when the
grader dies, however it dies (crash, SIGKILL).

The same thread sets its own CPU affinity before each start, so a child
inherits its pinning from its first instruction.
"""
from __future__ import annotations

import os
import queue
import threading

_DEFAULT_AFFINITY = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


class _Spawner:
    def __init__(self):
        self.pid = os.getpid()
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="sandbox-spawner", daemon=True).start()

    def _serve(self) -> None:
        while True:
            function, affinity, box, done = self.jobs.get()
            try:
                if _DEFAULT_AFFINITY is not None:
                    os.sched_setaffinity(0, affinity or _DEFAULT_AFFINITY)
                box["value"] = function()
            except BaseException as error:        # handed back to the caller, raised there
                box["error"] = error
            finally:
                done.set()


_lock = threading.Lock()
_spawner: _Spawner | None = None


def call(function, affinity: set[int] | None = None):
    """``function()`` run on the spawner thread, with the thread pinned to ``affinity`` (None: every CPU
    the process started with); its result, or its exception raised here."""
    global _spawner
    with _lock:
        if _spawner is None or _spawner.pid != os.getpid():      # a forked process has no spawner thread
            _spawner = _Spawner()
        spawner = _spawner
    box, done = {}, threading.Event()
    spawner.jobs.put((function, affinity, box, done))
    done.wait()
    if "error" in box:
        raise box["error"]
    return box["value"]


def default_affinity() -> set[int] | None:
    return set(_DEFAULT_AFFINITY) if _DEFAULT_AFFINITY is not None else None
