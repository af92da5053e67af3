"""The coordinator of `harness grade`: one class folder, one lab, one output folder.

    entries (harness.submission.discover_entries) -> plan (new, --resume, --regrade: content and spec
    hashes against the store) -> shared reference values -> executor (local workers or Dask) -> each
    finished submission: one store transaction, then its files -> the batch's files from the store

The store is the truth: every file in the output folder is written from it, after the commit, and
written again at the end of every run (a grader killed between a commit and its files loses nothing).
A result's folder is chosen once and never given to another id, so nothing is overwritten but a
regraded submission's own files.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import HarnessError
from ..spec import LabSpec, load_spec, override_limits
from ..submission import discover_entries
from .content import content_hash
from .executors import DaskExecutor, LocalExecutor
from .layout import BatchPaths, folder_name, write_atomically
from .store import Change, Record, Store
from .task import Settings, Task

MODES = ("new", "resume", "regrade")
WATCHDOG_SLACK = 2.0          # the watchdog allows twice the submission's budget (the harness's own work on top)
WATCHDOG_MINIMUM = 600.0


@dataclass
class BatchOutcome:
    """What a run did: the records of this run's entries, what it graded, what it left, what changed."""

    lab: str
    paths: BatchPaths
    records: list[Record] = field(default_factory=list)       # every graded entry of the folder, by id
    graded_now: list[str] = field(default_factory=list)       # ids graded in this run
    kept: list[str] = field(default_factory=list)             # ids a resumed run did not need to grade again
    not_graded: list[tuple[str, str, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def grade_batch(root: Path, out: Path, lab: str, *, mode: str = "new", jobs: int = 1, executor: str = "local",
                scheduler: str | None = None, settings: Settings | None = None, progress_mode: str = "auto",
                progress_stream=None, on_record=None) -> BatchOutcome:
    """Grade every submission in ``root`` (one folder or archive per student) for ``lab`` into ``out``.

    ``on_record(record)`` is called after each submission is stored and its files written. Raises
    HarnessError before grading anything when the folder, the lab, the mode or the output folder is
    wrong (an existing batch without --resume or --regrade, a batch of another lab).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    if jobs < 1:
        raise HarnessError(f"--jobs must be at least 1, got {jobs}")
    started = time.perf_counter()
    settings = settings or Settings()
    spec = load_spec(lab)
    if settings.limits:
        override_limits(spec.limits, settings.limits)           # a bad override stops the run before any grading
    if settings.only:
        from ..selection import select_checks
        select_checks(spec, list(settings.only))                # an unknown check id too
    paths = BatchPaths(Path(out))
    entries = discover_entries(Path(root))
    if not entries:
        raise HarnessError(f"{root}: empty, nothing to grade (a class folder holds one folder or archive per "
                           f"student)")
    with Store(paths.store) as store:
        _check_store(store, spec, mode, paths)
        outcome = BatchOutcome(spec.lab, paths)
        _compare_options(store, settings, mode, outcome)
        tasks, outcome.kept = _plan(entries, spec, store, mode)
        outcome.not_graded = [(entry.id, "not_graded", entry.reason) for entry in entries if entry.status == "skipped"]
        store.set_not_graded(outcome.not_graded)
        run = store.start_run(mode, jobs, executor, __version__)
        _write_kept_files(store, outcome.kept, paths)
        if tasks:
            try:
                _grade(tasks, spec, store, run, outcome, paths, jobs, executor, scheduler, settings, progress_mode,
                       progress_stream or sys.stderr, on_record)
            except KeyboardInterrupt:      # the class files show what finished, until --resume grades the rest
                write_batch_files(_entries_records(store, entries), outcome.not_graded, spec, paths)
                raise
        outcome.records = _entries_records(store, entries)
        outcome.changes = store.changes(run)
        write_batch_files(outcome.records, outcome.not_graded, spec, paths)
        store.finish_run(run)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _entries_records(store: Store, entries) -> list[Record]:
    ids = {entry.id for entry in entries}
    return [record for record in store.records() if record.id in ids]


def _check_store(store: Store, spec: LabSpec, mode: str, paths: BatchPaths) -> None:
    stored_lab = store.meta("lab")
    if stored_lab is not None and stored_lab != spec.lab:
        raise HarnessError(f"{paths.out} holds a batch of lab {stored_lab}, not {spec.lab}: choose another --out")
    if mode == "new" and store.has_results():
        raise HarnessError(f"{paths.out} already holds a graded batch ({paths.store.name}): use --resume to grade "
                           "only what is missing or changed, --regrade to grade everything again, or another --out")
    store.set_meta("lab", spec.lab)


def _compare_options(store: Store, settings: Settings, mode: str, outcome: BatchOutcome) -> None:
    """Remember the grading options; a resumed run with other options says so (its kept results used the old)."""
    import json
    options = json.dumps({"weights": settings.weights, "image": settings.image, "compat": settings.compat,
                          "limits": settings.limits, "python": settings.python, "isolation": settings.isolation,
                          "only": list(settings.only or ())}, sort_keys=True)
    before = store.meta("options")
    if mode == "resume" and before is not None and before != options:
        outcome.notes.append(f"the options differ from the stored results' ({before}); the results kept were graded "
                             "with those: --regrade grades everything with these")
    if mode != "resume" or before is None:
        store.set_meta("options", options)


def _plan(entries, spec: LabSpec, store: Store, mode: str) -> tuple[list[Task], list[str]]:
    """The tasks to grade and the ids kept as stored (resume: same content and spec, and graded: a row the
    harness failed on is tried again)."""
    folders = store.folders()
    taken = set(folders.values())
    tasks, kept = [], []
    for entry in entries:
        if entry.status == "skipped":
            continue
        folder = folders.get(entry.id)
        if folder is None:
            folder = folder_name(entry.id, taken)
            taken.add(folder)
        digest = content_hash(entry.path)
        stored = store.get(entry.id) if mode == "resume" else None
        if (stored is not None and stored.content_hash == digest and stored.spec_sha256 == spec.source_sha256
                and stored.status != "harness_error"          # a harness error is no grade: tried again
                and not _report_lost(stored)):                # nor is a page the report could not draw
            kept.append(entry.id)
            continue
        tasks.append(Task(entry.id, str(entry.path), spec.lab, folder, digest,
                          entry.reason if entry.status == "unreadable" else ""))
    return tasks, kept


def _grade(tasks: list[Task], spec: LabSpec, store: Store, run: int, outcome: BatchOutcome, paths: BatchPaths,
           jobs: int, executor_name: str, scheduler: str | None, settings: Settings, progress_mode: str,
           stream, on_record) -> None:
    from .gate import BatchGate
    from .progress import BatchProgress
    settings.spec_paths = {**settings.spec_paths, spec.lab: str(spec.path)}
    if executor_name == "dask":
        settings.gate_token = settings.gate_token or os.urandom(6).hex()
        executor = DaskExecutor(jobs, settings, scheduler)
    elif executor_name == "local":
        settings.gate = BatchGate(paths.work / "gate")    # the workers register (the coordinator is their parent)
        executor = LocalExecutor(jobs, settings, lambda task: _watchdog_seconds(spec, settings), paths.probes)
    else:
        raise HarnessError(f"unknown executor {executor_name!r} (local or dask)")
    try:
        shared = _shared_values(spec, settings, paths, outcome)  # into the executor's settings: seen by its workers
        if shared is not None:
            settings.shared_dirs = {**settings.shared_dirs, spec.lab: str(shared)}
        with BatchProgress(stream, len(tasks), progress_mode, executor.running, jobs) as progress:
            for task, result in executor.run(tasks, progress.started):
                record = _record(task, result, spec, run)
                store.record(record)
                record = _write_files(store, record, paths)
                outcome.graded_now.append(task.id)
                progress.finished(task, result)
                if on_record is not None:
                    on_record(record)
    finally:
        if settings.gate_token:                       # the Dask workers' registry on this machine
            import shutil
            shutil.rmtree(BatchGate.for_host(settings.gate_token).directory, ignore_errors=True)


def _watchdog_seconds(spec: LabSpec, settings: Settings) -> float:
    limits = override_limits(spec.limits, settings.limits) if settings.limits else spec.limits
    return max(WATCHDOG_MINIMUM, WATCHDOG_SLACK * limits.submission_budget)


def _shared_values(spec: LabSpec, settings: Settings, paths: BatchPaths, outcome: BatchOutcome) -> Path | None:
    """The folder of the lab's shared reference values, computed now unless this run's inputs already made it."""
    from ..context import build_context
    from .shared import SharedValues, map_vgg_weights, values_key
    context = build_context(spec, weights=settings.weights, image=settings.image)
    directory = paths.shared_values / f"{spec.lab}-{values_key(spec, context, __version__)}"
    if SharedValues.open(directory) is not None:
        return directory
    if spec.resources.get("vgg19_weights") or spec.resources.get("style_images"):
        return _build_elsewhere(str(spec.path), settings, directory, outcome)
    try:
        map_vgg_weights(context)
        SharedValues.build(spec, context, directory)
    except HarnessError:
        raise
    except Exception as error:       # the workers compute their own, as a single check does
        outcome.notes.append(f"reference values were not shared ({type(error).__name__}: {error}); "
                             "each worker computes its own")
        return None
    return directory


def _build_elsewhere(lab: str, settings: Settings, directory: Path, outcome: BatchOutcome) -> Path | None:
    """Build the shared values in a process of their own: the reference model's memory leaves with it."""
    import concurrent.futures
    import multiprocessing
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            pool.submit(build_shared_values, lab, settings.weights, settings.image, str(directory)).result()
        except HarnessError:
            raise
        except Exception as error:       # the workers compute their own, as a single check does
            outcome.notes.append(f"reference values were not shared ({type(error).__name__}: {error}); "
                                 "each worker computes its own")
            return None
    return directory


def build_shared_values(lab: str, weights: str | None, image: str | None, directory: str) -> None:
    from ..context import build_context
    from .shared import SharedValues, map_vgg_weights
    spec = load_spec(lab)
    context = build_context(spec, weights=weights, image=image)
    map_vgg_weights(context)
    SharedValues.build(spec, context, Path(directory))


def _record(task: Task, result: dict, spec: LabSpec, run: int) -> Record:
    if result.get("failed"):              # no worker finished it: the row is made here, every check an error
        result = _failed_result(task, result, spec)
    page = result.get("report_html")
    if page is None:                      # the worker's page failed: a plain one from the result, here
        page = _page_from_json(result["result_json"], spec)
    return Record(id=task.id, lab=spec.lab, folder=task.folder, content_hash=task.content_hash,
                  spec_sha256=spec.source_sha256, status=result["status"],
                  reason=_with_report_problem(result.get("reason", ""), page),
                  score=result["score"], max_score=result["max_score"], level=result["level"],
                  result_json=result["result_json"], report_html=page, graded_at=time.time(),
                  run=run, wall_seconds=result.get("wall_seconds"), submission_seconds=result.get("submission_seconds"))


def _page_from_json(result_json: str, spec: LabSpec) -> str:
    """The plain report page of a stored result (minimal_html: status, points, message and diagnosis of every
    check), for a submission whose worker returned no page; never raises."""
    import json
    from ..report.html import minimal_html
    from ..results import SubmissionResult
    try:
        result = SubmissionResult.from_json(json.loads(result_json))
    except Exception:                     # the plain page copes with a result it cannot read
        result = None
    return minimal_html(result, RuntimeError("the worker that graded this submission returned no page"))


def _with_report_problem(reason: str, page: str | None) -> str:
    """The row's reason, plus what went wrong drawing its report (a row never loses its page silently)."""
    from ..report.html import report_problem
    problem = report_problem(page)
    if not problem:
        return reason
    said = f"report.html: {problem} (a fault of the report, not of the submission)"
    return f"{reason}; {said}" if reason else said


def _report_lost(record: Record) -> bool:
    """A stored page that is missing or only the plain one: a resumed run grades the submission again."""
    from ..report.html import MINIMAL, report_problem
    return record.report_html is None or report_problem(record.report_html).startswith(MINIMAL)


def _failed_result(task: Task, failure: dict, spec: LabSpec) -> dict:
    from ..report.html import render_html
    from ..runner import unreadable_submission
    result = unreadable_submission(task.path, spec, failure["reason"])
    result.submission = task.id
    for check in result.checks:
        check.status = "timeout" if failure["status"] == "timeout" else "error"
        check.harness_fault = failure["status"] == "harness_error"
    return {"status": failure["status"], "reason": failure["reason"], "score": result.score,
            "max_score": result.max_score, "level": result.level, "result_json": result.json_text(),
            "report_html": render_html(result, spec.tiers)}


# --- files ------------------------------------------------------------------------------------------------

def write_submission_files(record: Record, paths: BatchPaths) -> None:
    """<folder>/result.json, <folder>/report.html and gradescope/<folder>.json, from the stored record."""
    from .gradescope import gradescope_json
    write_atomically(paths.result_json(record.folder), record.result_json)
    if record.report_html is not None:
        write_atomically(paths.report_html(record.folder), record.report_html)
    write_atomically(paths.gradescope(record.folder), gradescope_json(record))


def _write_kept_files(store: Store, kept: list[str], paths: BatchPaths) -> None:
    """A resumed run's kept submissions: their files again where one is missing (a kill after the commit)."""
    for submission_id in kept:
        record = store.get(submission_id)
        if record is None:
            continue
        if not (paths.result_json(record.folder).is_file() and paths.gradescope(record.folder).is_file()
                and (record.report_html is None or paths.report_html(record.folder).is_file())):
            _write_files(store, record, paths)
        else:
            store.set_file_problem(record.id, None)


def _write_files(store: Store, record: Record, paths: BatchPaths) -> Record:
    """The submission's files; one that cannot be written (a full disk, a name the file system refuses) costs
    this submission its files, said in its row, never the run (the store keeps its result either way)."""
    try:
        write_submission_files(record, paths)
    except OSError as error:
        store.set_file_problem(record.id, f"its files could not be written in {paths.out} "
                                          f"({error.strerror or type(error).__name__}); the result is in "
                                          f"{paths.store.name}, and --resume writes them again")
        return store.get(record.id) or record
    store.set_file_problem(record.id, None)
    return record


def write_batch_files(records: list[Record], not_graded: list[tuple[str, str, str]], spec: LabSpec,
                      paths: BatchPaths) -> None:
    """grades.csv, junit.xml and index.html of the whole batch, from the store's records."""
    from .gradebook import write_gradebook
    from .index import write_index
    from .junit import write_junit
    write_gradebook(records, not_graded, spec, paths)
    write_junit(records, not_graded, spec.lab, paths)
    write_index(records, not_graded, spec, paths)
