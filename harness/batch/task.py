"""Grading one submission of a batch, in a worker process (local or Dask): the unit of work.

``grade_task(task, settings)`` returns a plain dict (JSON text, the report page, status, figures)
that the coordinator stores; it never raises for anything a submission does or for a harness fault
while checking it (those are in the result, with status harness_error). The lab's spec and context
(reference model, weights mapped from the cache, the batch's shared values) are built once per worker
process and reused for every submission it grades.
"""
from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .status import status_of


@dataclass(frozen=True)
class Task:
    id: str
    path: str
    lab: str
    folder: str
    content_hash: str
    unreadable: str = ""            # discover_entries' reason when the entry is an archive that cannot be read


@dataclass
class Settings:
    """What every task of a batch shares (sent once to each worker)."""

    weights: str | None = None
    image: str | None = None
    compat: bool = True
    limits: dict = field(default_factory=dict)
    python: str | None = None
    isolation: str = "bwrap"
    spec_paths: dict = field(default_factory=dict)      # lab -> the spec file the coordinator loaded
    shared_dirs: dict = field(default_factory=dict)     # lab -> folder of SharedValues (None: compute per worker)
    gate: object = None                                 # a BatchGate (local), or None
    gate_token: str = ""                                # Dask: each host makes its own BatchGate from this
    only: tuple | None = None                           # check ids to run (with their dependencies); None: all
    html: bool = True
    audience: str = "instructor"


_CONTEXTS: dict = {}


def grade_task(task: Task, settings: Settings) -> dict:
    """Grade ``task``; a dict with id, status, reason, score, max_score, level, result_json, report_html,
    wall_seconds, submission_seconds."""
    started = time.perf_counter()
    spec, context = _lab(task.lab, settings)
    result, status, reason = _check(task, spec, context, settings)
    result.submission = task.id
    text = result.json_text()
    if status is None:
        status, reason = status_of(json.loads(text))
    html = _html(result, spec, settings) if settings.html else None
    return {"id": task.id, "status": status, "reason": reason, "score": result.score, "max_score": result.max_score,
            "level": result.level, "result_json": text,
            "report_html": html, "wall_seconds": time.perf_counter() - started,
            "submission_seconds": _submission_seconds(result.sandbox)}


def _check(task: Task, spec, context, settings: Settings):
    """(SubmissionResult, status or None when the result decides it, reason)."""
    from ..archives import ArchiveError
    from ..runner import RunOptions, check_submission, unreadable_submission
    from ..spec import override_limits
    if task.unreadable:
        return unreadable_submission(task.path, spec, task.unreadable), "unreadable", task.unreadable
    from ..selection import select_checks
    options = RunOptions(only=select_checks(spec, list(settings.only)) if settings.only else None, compat=settings.compat, isolation=settings.isolation, python=settings.python,
                         limits=override_limits(spec.limits, settings.limits) if settings.limits else None,
                         timing_gate=_gate(settings))
    try:
        return check_submission(Path(task.path), spec, context, options), None, ""
    except ArchiveError as error:
        return unreadable_submission(task.path, spec, str(error)), "unreadable", str(error)
    except Exception as error:       # a HarnessError or a bug: this submission's row says so, the batch goes on
        reason = f"the harness could not grade this submission ({type(error).__name__}: {error})"
        result = unreadable_submission(task.path, spec, reason)
        for check in result.checks:
            check.harness_fault = True
            check.traceback = traceback.format_exc()[-20_000:]
        return result, "harness_error", reason


def _html(result, spec, settings: Settings) -> str | None:
    from ..report.html import render_html
    try:
        return render_html(result, spec.tiers, settings.audience)
    except Exception:                # a page is never worth the result: the JSON is stored without it
        return None


def _submission_seconds(sandbox: dict) -> float | None:
    """Wall seconds the sandbox spent on the submission's requests, child start-ups excluded."""
    if "request_seconds" not in sandbox:
        return None
    return max(0.0, sandbox["request_seconds"] - sum(sandbox.get("startup_seconds", [])))


def _gate(settings: Settings):
    if settings.gate is not None:
        return settings.gate
    if settings.gate_token:
        from .gate import BatchGate
        gate = BatchGate.for_host(settings.gate_token)
        gate.register()
        settings.gate = gate
        return gate
    return None


def _lab(lab: str, settings: Settings):
    """The lab's spec and context, built once per worker process (and batch settings)."""
    key = (lab, settings.spec_paths.get(lab), settings.weights, settings.image, tuple(sorted(settings.limits.items())), settings.shared_dirs.get(lab))
    if key not in _CONTEXTS:
        from ..context import build_context
        from ..spec import load_spec
        from .shared import SharedValues, map_vgg_weights
        given = settings.spec_paths.get(lab)
        spec = load_spec(given if given and Path(given).is_file() else lab)      # a Dask worker elsewhere: by name
        context = build_context(spec, weights=settings.weights, image=settings.image)
        map_vgg_weights(context)
        shared = settings.shared_dirs.get(lab)
        if shared and Path(shared).is_dir():          # a Dask worker on another machine computes its own
            context.shared_values = SharedValues.open(Path(shared))
        _CONTEXTS[key] = (spec, context)
    return _CONTEXTS[key]
