"""Where a batch's submissions are graded: N local worker processes, or a Dask cluster.

Both run ``harness.batch.task.grade_task`` on one submission at a time and yield ``(task, outcome)``
as each finishes, in completion order; the coordinator stores each one as it comes. Each submission
still runs in its own sandboxed child, started by the worker that grades it.

Local. Worker processes started with ``spawn`` (no inherited threads, locks or file descriptors),
each fed one task at a time over a pipe, so the coordinator always knows which submission a worker
holds. A worker that dies (a crash of the harness, the kernel's OOM killer) costs that submission a
harness_error row and is replaced; a worker that holds one submission longer than the watchdog allows
is killed with its process tree and the row says timeout. The workers keep the era probes' answers in
one folder (``probe_cache``): a submission's sources are probed once per run (harness.era). Workers die
with the coordinator (PR_SET_PDEATHSIG), and their sandbox children with them (bubblewrap's
--die-with-parent): a SIGKILLed grader leaves nothing running.

Dask. ``dask.distributed`` (the optional ``cluster`` extra): a LocalCluster on the loopback
interface with N single-threaded worker processes, or the scheduler at ``--scheduler ADDRESS``
(started with ``dask scheduler``, or by dask-jobqueue on Slurm/PBS). Workers must have the harness
installed, bubblewrap, and the submissions' folder at the same path (a shared file system). A
worker lost mid-task is retried by Dask; a submission that keeps killing workers gets a
harness_error row.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import HarnessError
from .task import Settings, Task, grade_task

EXECUTORS = ("local", "dask")
POLL_SECONDS = 0.5


def failed_outcome(task: Task, status: str, reason: str) -> dict:
    """The outcome of a task no worker finished: no result from the harness, so the coordinator makes the row."""
    return {"id": task.id, "status": status, "reason": reason, "failed": True}


# --- local worker processes ---------------------------------------------------------------------------------

class LocalExecutor:
    """``jobs`` worker processes on this machine."""

    name = "local"

    def __init__(self, jobs: int, settings: Settings, watchdog_seconds: Callable[[Task], float],
                 probe_cache: Path | None = None):
        if jobs < 1:
            raise HarnessError(f"--jobs must be at least 1, got {jobs}")
        self.jobs, self.settings, self.watchdog_seconds = jobs, settings, watchdog_seconds
        self.probe_cache = str(probe_cache) if probe_cache is not None else None     # harness.era.use_cache
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []

    def running(self) -> list[Task]:
        return [worker.task for worker in self._workers if worker.task is not None]

    def run(self, tasks: Iterable[Task], started: Callable[[Task], None] = lambda task: None
            ) -> Iterator[tuple[Task, dict]]:
        pending = deque(tasks)
        try:
            self._workers = [self._start_worker() for _ in range(min(self.jobs, len(pending)))]
            while pending or any(worker.task is not None for worker in self._workers):
                self._feed(pending, started)
                yield from self._collect(pending, started)
        finally:
            self.close()

    def _feed(self, pending: deque, started: Callable[[Task], None]) -> None:
        for worker in self._workers:
            if worker.task is None and pending:
                worker.give(pending.popleft(), self.watchdog_seconds)
                started(worker.task)

    def _collect(self, pending: deque, started: Callable[[Task], None]) -> Iterator[tuple[Task, dict]]:
        busy = [worker for worker in self._workers if worker.task is not None]
        ready = wait([worker.connection for worker in busy] + [worker.process.sentinel for worker in busy],
                     timeout=POLL_SECONDS)
        for index, worker in enumerate(self._workers):
            if worker.task is None:
                continue
            task = worker.task
            if worker.connection in ready:
                try:
                    outcome = worker.connection.recv()
                except (EOFError, OSError):
                    outcome = None
                if outcome is not None:
                    worker.task = None
                    self._feed(pending, started)        # the worker's next submission before this one is stored
                    yield task, outcome
                    continue
            if worker.process.sentinel in ready or not worker.process.is_alive():
                self._workers[index] = self._replace(worker)
                yield task, failed_outcome(task, "harness_error", f"the grading worker died ({_exit_words(worker)}) "
                                           "while grading this submission; the batch went on without it")
            elif worker.overdue():
                limit = worker.limit
                self._workers[index] = self._replace(worker)
                yield task, failed_outcome(task, "timeout", f"grading took more than {limit:g} s (the "
                                           "submission's budget and the harness's own work); the worker was stopped")

    def _start_worker(self) -> "_Worker":
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child_end, self.settings, os.getpid(),
                                                                   self.probe_cache),
                                        name="harness-grade-worker", daemon=True)
        process.start()
        child_end.close()
        return _Worker(process, parent_end)

    def _replace(self, worker: "_Worker") -> "_Worker":
        worker.stop(kill=True)
        return self._start_worker()

    def close(self) -> None:
        for worker in self._workers:
            worker.stop(kill=worker.task is not None)
        self._workers = []


class _Worker:
    def __init__(self, process, connection):
        self.process, self.connection = process, connection
        self.task: Task | None = None
        self.deadline = 0.0
        self.limit = 0.0

    def give(self, task: Task, watchdog_seconds: Callable[[Task], float]) -> None:
        self.task, self.limit = task, watchdog_seconds(task)
        self.deadline = time.monotonic() + self.limit
        self.connection.send(task)

    def overdue(self) -> bool:
        return time.monotonic() > self.deadline

    def stop(self, kill: bool) -> None:
        if kill and self.process.is_alive():
            from ..sandbox import tree
            tree.kill(self.process.pid)             # the worker and its sandbox children, leaves first
        else:
            try:
                self.connection.send(None)
            except (OSError, ValueError):
                pass
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.connection.close()


def _exit_words(worker: _Worker) -> str:
    worker.process.join(timeout=1)
    code = worker.process.exitcode
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _worker_main(connection, settings: Settings, coordinator: int, probe_cache: str | None = None) -> None:
    """A worker: grade the tasks the coordinator sends until it sends None or goes away."""
    _die_with(coordinator)
    if probe_cache is not None:         # era probes shared with the other workers and the similarity report
        from .. import era
        era.use_cache(Path(probe_cache))
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is the coordinator's to handle
    if settings.gate is not None:
        settings.gate.register()
    try:
        while True:
            try:
                task = connection.recv()
            except (EOFError, OSError):
                return
            if task is None:
                return
            try:
                outcome = grade_task(task, settings)
            except Exception as error:          # grade_task catches the harness's faults; this is a last resort
                outcome = failed_outcome(task, "harness_error", f"the worker failed ({type(error).__name__}: {error})")
            connection.send(outcome)
    finally:
        if settings.gate is not None:
            settings.gate.unregister()


def _die_with(coordinator: int) -> None:
    """SIGKILL this worker when the coordinator dies (Linux prctl PR_SET_PDEATHSIG), or exit if it already has."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)           # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != coordinator:
        os._exit(1)


# --- Dask ---------------------------------------------------------------------------------------------------

class DaskExecutor:
    """The same tasks on a dask.distributed cluster: a LocalCluster of ``jobs`` workers, or ``scheduler``."""

    name = "dask"

    def __init__(self, jobs: int, settings: Settings, scheduler: str | None = None):
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise HarnessError("--executor dask needs dask.distributed: pip install 'nnlab-harness[cluster]' "
                               "(or pip install 'dask[distributed]')") from None
        self.jobs, self.settings, self.scheduler = jobs, settings, scheduler
        self._futures: dict = {}
        self._client = None

    def running(self) -> list[Task]:
        client = self._client
        if client is None:
            return []
        try:
            keys = {key for keys in client.processing().values() for key in keys}
        except Exception:           # a progress line is never worth an error
            return []
        return [task for key, task in self._futures.items() if key in keys]

    def run(self, tasks: Iterable[Task], started: Callable[[Task], None] = lambda task: None
            ) -> Iterator[tuple[Task, dict]]:
        from distributed import Client, LocalCluster, as_completed
        cluster = None
        try:
            if self.scheduler:
                self._client = Client(self.scheduler, timeout="30s")
            else:
                cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, worker_dashboard_address=None)
                self._client = Client(cluster)
            client = self._client
            settings = client.scatter(self.settings, broadcast=True)
            futures = {}
            for task in tasks:
                future = client.submit(grade_task, task, settings, key=f"grade-{task.folder}-{os.urandom(4).hex()}",
                                       pure=False)
                futures[future] = task
                self._futures[future.key] = task        # started: unknown here (queued or running), see running()
            for future in as_completed(list(futures)):
                task = futures[future]
                try:
                    outcome = future.result()
                except Exception as error:          # KilledWorker and the like: this row, not the batch
                    outcome = failed_outcome(task, "harness_error", f"the cluster could not grade this submission "
                                             f"({type(error).__name__}: {error})")
                self._futures.pop(future.key, None)
                yield task, outcome
        except OSError as error:
            raise HarnessError(f"cannot reach the Dask scheduler {self.scheduler or '(local cluster)'}: {error}") from None
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None
            if cluster is not None:
                cluster.close()
