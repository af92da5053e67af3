"""The timing gate of a batch: one speedup measurement at a time, on a CPU no other worker uses meanwhile.

harness.timing_gate.LockFileGate serialises measurements with a lock file and names the CPU to pin them
to. On its own that leaves the other workers free to run on that CPU while someone measures. Pinning
the other workers away for good would cost a core of two for the whole batch; so this gate moves them
only while a measurement runs: the measuring worker pins every other registered worker's process tree
(its sandbox children included) to the remaining CPUs, keeps them there for the measurement (a new
child started meanwhile is caught by a rescan every quarter second), then gives them every CPU back,
and only then releases the lock.

Workers register their process id (and its start time, so a recycled id is never touched) in a folder
on the machine they run on: ``<out>/.work/gate`` for local workers, a folder under the system's
temporary directory named after the run for Dask workers on one host. Moving other processes needs
the right to (the same user, or root): without it the gate still serialises and pins the measurement.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

from ..timing_gate import LockFileGate, allowed_cpus

RESCAN_SECONDS = 0.25


class BatchGate(LockFileGate):
    """LockFileGate that keeps the other registered workers off the measuring CPU while it measures."""

    def __init__(self, directory: str | Path, cpu: int | None = -1):
        super().__init__(Path(directory) / "timing.lock", cpu)
        self.directory = Path(directory)
        self.all_cpus = set(allowed_cpus())

    @classmethod
    def for_host(cls, run_token: str) -> "BatchGate":
        """The gate of the workers of run ``run_token`` on this machine (Dask workers: no shared folder)."""
        return cls(Path(tempfile.gettempdir()) / f"harness-gate-{run_token}")

    def register(self, pid: int | None = None) -> None:
        """Count process ``pid`` (default: this one) as a worker to move off the CPU during measurements.
        Import the sandbox first: its spawner remembers the CPUs a process started with."""
        if pid is None and self.all_cpus:           # a worker started while someone measured: every CPU again
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, self.all_cpus)
        import harness.sandbox.spawner  # noqa: F401  (the default affinity is read at import: before any move)
        pid = pid or os.getpid()
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"{pid}.worker").write_text(_start_time(pid) or "")

    def unregister(self, pid: int | None = None) -> None:
        with contextlib.suppress(OSError):
            (self.directory / f"{pid or os.getpid()}.worker").unlink()

    @contextlib.contextmanager
    def measuring(self):
        with super().measuring() as cpu:
            others = self.all_cpus - {cpu} if cpu is not None else set()
            if not others:
                yield cpu
                return
            stop = threading.Event()
            mover = threading.Thread(target=self._keep_away, args=(others, stop), name="harness-gate", daemon=True)
            self._move(others)
            mover.start()
            try:
                yield cpu
            finally:
                stop.set()
                mover.join()
                self._move(self.all_cpus)

    def _keep_away(self, cpus: set[int], stop: threading.Event) -> None:
        with contextlib.suppress(OSError):          # this thread too stays off the measuring CPU
            os.sched_setaffinity(threading.get_native_id(), cpus)
        while not stop.wait(RESCAN_SECONDS):
            self._move(cpus)

    def _move(self, cpus: set[int]) -> None:
        from ..sandbox import tree
        for pid in self._workers():
            try:
                tree.set_affinity(pid, cpus)
            except OSError:
                pass

    def _workers(self) -> list[int]:
        """The registered workers still alive, without this process and its ancestors: moving an ancestor's
        tree would move the measuring process and the sandbox it times off the measuring CPU too."""
        found, own_line = [], _ancestors(os.getpid())
        try:
            entries = list(self.directory.glob("*.worker"))
        except OSError:
            return found
        for entry in entries:
            try:
                pid = int(entry.stem)
                recorded = entry.read_text()
            except (ValueError, OSError):
                continue
            if pid not in own_line and recorded and _start_time(pid) == recorded:
                found.append(pid)
        return found


def _ancestors(pid: int) -> set[int]:
    """``pid`` and the processes above it, from /proc/PID/stat's parent field."""
    line = set()
    while pid > 1 and pid not in line:
        line.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                pid = int(stat.read().decode("ascii", "replace").rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return line


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22): with the id, a process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode("ascii", "replace")
    except OSError:
        return None
    return text.rpartition(")")[2].split()[19]
