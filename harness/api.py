"""The harness as a library: every CLI verb is one of these functions.

    from harness import api
    result = api.check("my_exp_dir", lab="aics-exp3-3")
    print(result.score, result.level)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .context import LabContext, build_context
from .errors import HarnessError
from .results import SubmissionResult
from .runner import RunOptions, check_submission, require_isolation
from .selection import select_checks
from .spec import LabSpec, available_labs, load_spec, override_limits

__all__ = ["check", "grade", "kit", "labs", "similarity", "GradedSubmission", "GradedBatch"]


def labs(specs_dir: Path | None = None) -> list[LabSpec]:
    """Every lab spec in the specs directory, loaded and validated."""
    return [load_spec(name, specs_dir) for name in available_labs(specs_dir)]


def check(path: str | Path, lab: str | None = None, *, weights: str | Path | None = None,
          image: str | Path | None = None, only: list[str] | None = None, compat: bool = True,
          isolation: str = "bwrap", context: LabContext | None = None,
          limits: dict[str, str] | None = None, progress=None, python: str | None = None) -> SubmissionResult:
    """Check one submission (a directory or a .zip) against one lab.

    ``only``: check ids to run (with the checks they depend on); an unknown id is a HarnessError that
    suggests the closest ids. ``progress(check, result)``: called as each check starts (result None)
    and ends (see harness.progress).
    """
    if lab is None and context is None:
        raise HarnessError("name a lab (--lab; `harness labs` lists them)")
    spec = context.spec if context else load_spec(lab)
    selected = select_checks(spec, only)
    context = context or build_context(spec, weights=weights, image=image)
    options = RunOptions(only=selected, compat=compat, isolation=isolation,
                         limits=override_limits(spec.limits, limits) if limits else None, python=python)
    if progress is not None and hasattr(options, "progress"):
        options.progress = progress
    return check_submission(Path(path), spec, context, options)


def kit(lab: str, out: str | Path, *, weights=None, image=None, python: str | None = None) -> dict:
    """Write the student kit of ``lab`` into ``out`` (check.pyz and README.txt, see harness.kit);
    return its manifest."""
    from .kit import make_kit
    return make_kit(lab, Path(out), Path(weights) if weights else None, Path(image) if image else None, python)


@dataclass
class GradedSubmission:
    name: str                    # the submission's id: its entry name in the class folder, in full
    result: SubmissionResult
    json_path: Path
    status: str = "graded"       # graded, timeout, harness_error, unreadable (harness.batch.status)
    reason: str = ""


class GradedBatch(list):
    """The graded submissions (GradedSubmission, by lab then id) and, per lab, the batch's outcome
    (harness.batch.run.BatchOutcome: what was graded now, kept, not graded and why, scores changed)."""

    def __init__(self, items=(), outcomes=()):
        super().__init__(items)
        self.outcomes = list(outcomes)


def grade(directory: str | Path, out: str | Path, *, lab: str | None = None, weights=None, image=None,
          compat: bool = True, on_result=None, limits: dict[str, str] | None = None, python: str | None = None,
          isolation: str = "bwrap", jobs: int = 1, resume: bool = False, regrade: bool = False,
          executor: str = "local", scheduler: str | None = None, similarity: bool = False,
          known: str | Path | None = None, progress: str = "off", progress_stream=None) -> GradedBatch:
    """Grade every submission under ``directory`` into ``out`` (harness.batch).

    Layout: with ``lab``, ``directory/<entry>`` is one student's folder or archive, and ``out`` gets
    ``<folder>/result.json`` and ``report.html`` per submission (the folder: the entry's name made safe,
    with a short hash), ``grades.csv``, ``gradescope/``, ``junit.xml``, ``index.html`` and the store
    ``grades.sqlite``. Without ``lab``, every ``directory/<lab>/`` named after a lab is a batch of its
    own in ``out/<lab>/``. ``resume``: grade only what is not stored or changed since; ``regrade``:
    everything again (an output folder already holding a batch needs one of them). ``jobs`` workers
    (``executor`` "local", or "dask" on ``scheduler`` or a local cluster); ``similarity``: also
    similarity.html (against the solutions in ``known`` too). ``on_result(graded)`` is called after
    each submission is stored.
    """
    from .batch.run import grade_batch
    from .batch.task import Settings
    directory, out = Path(directory), Path(out)
    if not directory.is_dir():
        from .submission import not_a_folder
        raise HarnessError(f"{directory}: {not_a_folder(directory)}")
    if resume and regrade:
        raise HarnessError("--resume and --regrade exclude each other: --resume keeps what is graded, "
                           "--regrade grades everything again")
    require_isolation(isolation)                    # before any grading: one clear message, exit status 2
    mode = "regrade" if regrade else "resume" if resume else "new"
    batches = {lab: (directory, out)} if lab else {name: (directory / name, out / name) for name in _lab_folders(directory)}
    graded, outcomes = [], []
    for lab_name, (root, lab_out) in batches.items():
        settings = Settings(weights=str(weights) if weights else None, image=str(image) if image else None,
                            compat=compat, limits=dict(limits or {}), python=python, isolation=isolation)

        def stored(record, lab_out=lab_out):
            if on_result is not None:
                on_result(_graded(record, lab_out))

        outcome = grade_batch(root, lab_out, lab_name, mode=mode, jobs=jobs, executor=executor, scheduler=scheduler,
                              settings=settings, progress_mode=progress, progress_stream=progress_stream,
                              on_record=stored)
        if similarity:
            from .batch.similarity import write_similarity
            write_similarity(root, outcome, known=Path(known) if known else None)
        outcomes.append(outcome)
        graded += [_graded(record, lab_out) for record in outcome.records]
    return GradedBatch(graded, outcomes)


def similarity(directory: str | Path, out: str | Path, *, lab: str, known: str | Path | None = None):
    """similarity.html for the submissions in ``directory`` (one folder or archive per student) into ``out``;
    returns the report (harness.batch.similarity.SimilarityReport)."""
    from .batch.similarity import similarity_report
    return similarity_report(Path(directory), Path(out), lab, known=Path(known) if known else None)


def _graded(record, out: Path) -> GradedSubmission:
    from .batch.layout import BatchPaths
    return GradedSubmission(record.id, SubmissionResult.from_json(record.result),
                            BatchPaths(out).result_json(record.folder), record.status, record.reason)


def _lab_folders(directory: Path) -> list[str]:
    known = set(available_labs())
    found = [child.name for child in sorted(directory.iterdir()) if child.is_dir() and child.name in known]
    if not found:
        raise HarnessError(f"{directory}: no folder named after a lab ({', '.join(sorted(known))}); "
                           "use --lab to grade a folder of submissions for one lab")
    return found
