"""Timing that stays fair when several graders share a machine: one measurement at a time, on a named CPU.

A speedup check compares the student's speedup path (in the sandbox child)
with the reference's plain loop (in the grading process), pair by pair. Two
workers timing at once on a 2-core machine, or timing beside another worker's
style transfer, would judge a student by the neighbours' load. A gate says:

    with gate.measuring() as cpu:     # blocks until no other worker measures
        ...pin the child (Session.set_affinity({cpu})) and the measuring thread to cpu, measure...

``cpu`` is the CPU both sides of every pair run on (None: do not pin). Work
that is not a timing measurement should keep off it while someone measures:
``gate.other_cpus()`` is the set to pin it to (H9's batch workers pin their
sessions there between measurements).

``LocalGate``: a single check, nothing to serialise; it names the last CPU
this process may run on. ``LockFileGate``: a batch, one lock file shared by
all workers (processes or threads; an fcntl lock, released by the kernel if
a worker dies), typically ``<out>/.timing.lock``. Both are picklable, so a
worker process can receive the gate its parent built.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator, Protocol


class TimingGate(Protocol):
    def measuring(self) -> contextlib.AbstractContextManager[int | None]:
        """Hold the right to measure; yields the CPU to pin the measurement to, or None."""

    def other_cpus(self) -> set[int] | None:
        """The CPUs for work that is not a measurement (None: no constraint)."""


def allowed_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):          # not Linux
        return []


class LocalGate:
    """One check on its own: no other measurement to wait for; pins to one CPU (the last allowed one)."""

    def __init__(self, cpu: int | None = -1):
        cpus = allowed_cpus()
        self.cpu = (cpus[-1] if cpus else None) if cpu == -1 else cpu
        self.waited_seconds = 0.0

    @contextlib.contextmanager
    def measuring(self) -> Iterator[int | None]:
        yield self.cpu

    def other_cpus(self) -> set[int] | None:
        return _others(self.cpu)


class LockFileGate:
    """Measurements serialised across processes by an exclusive fcntl lock on ``lock_path``.

    ``cpu``: the CPU every measurement is pinned to (-1: the last CPU this process may use; None: none).
    ``waited_seconds`` adds up how long this process waited for the lock.
    """

    def __init__(self, lock_path: str | Path, cpu: int | None = -1):
        self.lock_path = Path(lock_path)
        cpus = allowed_cpus()
        self.cpu = (cpus[-1] if cpus else None) if cpu == -1 else cpu
        self.waited_seconds = 0.0

    @contextlib.contextmanager
    def measuring(self) -> Iterator[int | None]:
        import fcntl
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            started = time.perf_counter()
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            self.waited_seconds += time.perf_counter() - started
            try:
                yield self.cpu
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    def other_cpus(self) -> set[int] | None:
        return _others(self.cpu)


def _others(cpu: int | None) -> set[int] | None:
    cpus = set(allowed_cpus())
    if cpu is None or len(cpus) < 2:
        return None
    return cpus - {cpu}


@contextlib.contextmanager
def pinned_thread(cpu: int | None) -> Iterator[bool]:
    """Pin the calling thread (only it: the grader's other threads keep their CPUs) to ``cpu`` for the
    block; yields whether it is pinned."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield False
        return
    import threading
    thread = threading.get_native_id()
    try:
        before = os.sched_getaffinity(thread)
        os.sched_setaffinity(thread, {cpu})
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        try:
            os.sched_setaffinity(thread, before)
        except OSError:
            pass
