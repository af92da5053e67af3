"""The harness as a library: every CLI verb is one of these functions.

    from harness import api
    result = api.check("my_exp_dir", lab="aics-exp3-3")
    print(result.score, result.level)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .context import LabContext, build_context
from .report.html import write_html
from .errors import HarnessError
from .results import SubmissionResult
from .runner import RunOptions, check_submission, require_isolation, unreadable_submission
from .selection import select_checks
from .spec import LabSpec, available_labs, load_spec, override_limits

__all__ = ["check", "grade", "kit", "labs", "GradedSubmission"]


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
    name: str
    result: SubmissionResult
    json_path: Path


def grade(directory: str | Path, out: str | Path, *, lab: str | None = None, weights=None, image=None,
          compat: bool = True, on_result=None, limits: dict[str, str] | None = None, python: str | None = None,
          isolation: str = "bwrap") -> list[GradedSubmission]:
    """Grade every submission under ``directory`` into ``out``.

    Layout: ``directory/<lab>/<name>/`` (the lab from the folder name) or, with
    ``lab`` given, ``directory/<name>/``. Writes ``out/<lab>/<name>.json`` and ``.html``.
    ``on_result(graded)`` is called after each submission (progress display).
    """
    directory, out = Path(directory), Path(out)
    if not directory.is_dir():
        raise HarnessError(f"{directory}: not a directory")
    require_isolation(isolation)                    # before any grading: one clear message, exit status 2
    graded = []
    for lab_name, submissions in _discover(directory, lab).items():
        spec = load_spec(lab_name)
        if limits:
            override_limits(spec.limits, limits)       # a bad override stops the run before any grading
        context = build_context(spec, weights=weights, image=image)
        for submission in submissions:
            try:
                result = check(submission, spec.lab, compat=compat, context=context, python=python, limits=limits,
                               isolation=isolation)
            except HarnessError as error:         # this submission's archive, not the run: grade the others
                result = unreadable_submission(submission, spec, str(error))
            json_path = out / spec.lab / f"{_safe_name(submission.name)}.json"
            result.write_json(json_path)
            write_html(result, json_path.with_suffix(".html"), spec.tiers)
            item = GradedSubmission(submission.name, result, json_path)
            graded.append(item)
            if on_result:
                on_result(item)
    return graded


def _discover(directory: Path, lab: str | None) -> dict[str, list[Path]]:
    if lab:
        return {lab: _submission_dirs(directory)}
    known = set(available_labs())
    found = {child.name: _submission_dirs(child) for child in sorted(directory.iterdir())
             if child.is_dir() and child.name in known}
    if not found:
        raise HarnessError(f"{directory}: no folder named after a lab ({', '.join(sorted(known))}); "
                           "use --lab to grade a folder of submissions for one lab")
    return found


def _submission_dirs(directory: Path) -> list[Path]:
    """Student folders and archives (an unreadable archive too: it gets its row with the reason)."""
    from .submission import discover_entries
    return [entry.path for entry in discover_entries(directory) if entry.status in ("gradable", "unreadable")]


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "submission"
