"""Check one submission against one lab spec.

    spec -> (per check, per case) inputs and expected values -> the child runs the
    submission -> compare -> CheckResult -> rubric -> SubmissionResult

Checks run in file order inside one sandbox session; a check whose
dependency did not pass is skipped. A crash, exception or timeout of the
submission costs the check (the session restarts the child), never the run.
"""
from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__, era as eras, rubric
from .adapters import registry
from .adapters.base import ChildFailure
from .context import LabContext, RunContext
from .diagnose import diagnose
from .errors import HarnessError
from .messages import describe_failure
from .results import CaseOutcome, CheckResult, SubmissionResult
from .spec import Case, CheckSpec, LabSpec, stable_seed
from .submission import Submission, locate_submission

_STATUS_PRECEDENCE = ("timeout", "error", "fail", "pass")
MAX_ARTIFACT_ELEMENTS = 4_000_000


@dataclass
class RunOptions:
    only: tuple[str, ...] | None = None      # check ids to run (others are reported as skip)
    isolation: str = "bwrap"                 # "bwrap" | "fallback" | "process" (harness.sandbox.isolation)
    compat: bool = True
    session_factory: object = None           # (submission, spec, context, options) -> session; default: the sandbox
    limits: object = None                    # LabLimits replacing the spec's (spec.override_limits), or None
    progress: object = None                  # progress(check, None) as a check starts, (check, result) as it ends
    python: str | None = None                # "2", "3" or "auto" (harness.era); None: the spec's python: key
    timing_gate: object = None               # harness.timing_gate.TimingGate shared by a batch's workers; None: one check


def check_submission(path: str | Path, spec: LabSpec, lab_context: LabContext,
                     options: RunOptions | None = None) -> SubmissionResult:
    options = options or RunOptions()
    started = time.perf_counter()
    submission = locate_submission(Path(path), spec)
    try:
        era = _era(submission, spec, options)
        results, sandbox_info, run_error, float_error = _run_checks(submission, spec, lab_context, options, era)
        retry = era.retry_as_python2(float_error) if era is not None and float_error is not None else None
        if retry is not None:       # a Python 3 run that classic division explains: the whole submission again
            era = retry
            results, sandbox_info, run_error, _ = _run_checks(submission, spec, lab_context, options, era)
    finally:
        submission.cleanup()
    score, max_score = rubric.score(results)
    return SubmissionResult(
        lab=spec.lab,
        submission=str(path),
        checks=results,
        score=score,
        max_score=max_score,
        level=rubric.level(spec.tiers, results),
        spec_sha256=spec.source_sha256,
        harness_version=__version__,
        sandbox=sandbox_info,
        resources=lab_context.resources(),
        duration=time.perf_counter() - started,
        error=run_error,
        semantics=era.semantics if era is not None else {},
    )


def _era(submission: Submission, spec: LabSpec, options: RunOptions):
    """The Python era the submission runs with (harness.era); None for sessions that run no child."""
    if options.session_factory is not None:
        return None
    limits = options.limits or spec.limits       # the probe gets no more than the submission's budget, which pays it
    return eras.decide(submission.package_dir, str(options.python or spec.python), limits.submission_budget)


def _run_checks(submission: Submission, spec: LabSpec, lab_context: LabContext, options: RunOptions, era):
    """Every check in one session: (results, sandbox summary, run error, the first error classic division
    explains, when the era may be retried with Python 2 semantics; the run then stops there)."""
    run_context = RunContext(lab_context, timing_gate=options.timing_gate)
    results: list[CheckResult] = []
    sandbox_info, run_error = {}, ""
    try:
        with _session(submission, spec, lab_context, options, era) as raw_session:
            session = eras.ErrorWatch(raw_session)
            limits = options.limits or spec.limits
            with _budget(raw_session, limits.submission_budget, "submission") as whole:
                _charge_probe(raw_session, era)
                for check in spec.checks:
                    if whole.exhausted and (options.only is None or check.id in options.only):
                        results.append(_out_of_time(check, whole))
                        continue
                    with _budget(raw_session, limits.check_budget, "check"):
                        results.append(_run_or_skip(check, session, submission, run_context, results, options))
                    if era is not None and era.may_retry and session.first_float_error is not None:
                        return results, sandbox_info, run_error, session.first_float_error   # checked again
                if not whole.exhausted:
                    _attribute_root_causes(results, spec, session, run_context)
            sandbox_info = _sandbox_summary(session)
    except HarnessError:
        raise
    except Exception as error:      # starting or closing the sandbox failed: the checks not run are errors
        done = {result.id for result in results}
        run_error = f"the harness could not run the submission ({type(error).__name__}: {error})"
        results += [harness_fault(check, error) for check in spec.checks if check.id not in done]
    return results, sandbox_info, run_error, None


def _budget(session, seconds: float, name: str):
    """The session's wall-clock budget (harness.sandbox.Session.budget); sessions without one get no limit."""
    budget = getattr(session, "budget", None)
    if budget is None:
        from .sandbox.session import Budget
        return contextlib.nullcontext(Budget(None, name))
    return budget(seconds, name)


def _charge_probe(session, era) -> None:
    """The era probe's seconds (harness.era: reading and translating the sources) are the submission's: charged
    to its budget as if a request had taken them (looplint's are charged the same way)."""
    spend = getattr(session, "spend", None)
    if era is not None and callable(spend):
        spend(era.probe_seconds)


def _out_of_time(check: CheckSpec, whole) -> CheckResult:
    return CheckResult(check.id, check.title, "timeout", 0.0, check.points,
                       f"not run: {whole.describe()} was spent by the checks before it")


def require_isolation(mode: str) -> None:
    """HarnessError (saying how to install what is missing) when the sandbox cannot give ``mode`` here."""
    from .sandbox import isolation
    try:
        isolation.plan(mode)
    except isolation.IsolationUnavailable as error:
        raise HarnessError(str(error)) from None


def _session(submission: Submission, spec: LabSpec, lab_context: LabContext, options: RunOptions, era):
    if options.session_factory is not None:
        return options.session_factory(submission, spec, lab_context, options)
    return _open_session(submission, spec, lab_context, options, era)


def unreadable_submission(path: str | Path, spec: LabSpec, reason: str) -> SubmissionResult:
    """The result of a submission that could not be opened at all (a damaged archive): every check an
    error with the reason, so a batch goes on and the gradebook still has its row."""
    results = [CheckResult(check.id, check.title, "error", 0.0, check.points, message=reason) for check in spec.checks]
    score, max_score = rubric.score(results)
    return SubmissionResult(lab=spec.lab, submission=str(path), checks=results, score=score, max_score=max_score,
                            level=rubric.level(spec.tiers, results), spec_sha256=spec.source_sha256,
                            harness_version=__version__, error=reason)


def _open_session(submission: Submission, spec: LabSpec, lab_context: LabContext, options: RunOptions, era=None):
    from .sandbox import Limits, SandboxConfig, Session
    limits = options.limits or spec.limits
    config = SandboxConfig(
        submission_dir=submission.package_dir,
        package_name=spec.package,
        limits=Limits(wall_time=limits.timeout, cpu_time=limits.cpu_time, address_space=limits.address_space,
                      open_files=limits.open_files, file_size=limits.file_size, processes=limits.processes,
                      output_bytes=limits.output_bytes, scratch_bytes=limits.scratch_bytes),
        threads=limits.threads,
        readable_paths=lab_context.readable_paths(),
        protected_paths=_protected_paths(spec, submission) + lab_context.protected_paths(),
        compat=options.compat,
        python=era.plan if era is not None else None,
        isolation=options.isolation,
    )
    require_isolation(options.isolation)
    return Session(config)


def _protected_paths(spec: LabSpec, submission: Submission) -> list[Path]:
    """What the child must never read: the specs and everything beside the submission (other students).

    The neighbourhood is that of the path as given (the folder a .zip came from), never the temporary
    directory an archive was unpacked into.
    """
    return [spec.path.parent.resolve(), (submission.origin or submission.root.resolve()).parent]


def _sandbox_summary(session) -> dict:
    summary = getattr(session, "summary", None)
    try:
        return summary() if callable(summary) else {}
    except Exception as error:      # a summary is a record, never worth losing the results for
        return {"error": f"{type(error).__name__}: {error}"}


def harness_fault(check: CheckSpec, error: BaseException) -> CheckResult:
    """The result of a check during which the harness itself raised: an error worth nothing, marked as the
    harness's fault, with the traceback for maintainers (the message stays one readable line)."""
    text = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    message = (f"the harness failed while checking this ({text}); this is a fault of the grader, not a verdict "
               "on the submission: please report it with the submission")
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return CheckResult(check.id, check.title, "error", 0.0, check.points, message,
                       harness_fault=True, traceback=trace[-20_000:])


def _attribute_root_causes(results, spec: LabSpec, session, run_context: RunContext) -> None:
    """Link failures to the failing check that explains them (harness.root_cause); never costs the run."""
    from .root_cause import attribute_root_causes
    try:
        attribute_root_causes(results, spec, session, run_context)
    except Exception:               # a report without root causes is still a complete report
        pass


def _run_or_skip(check: CheckSpec, session, submission: Submission, run_context: RunContext,
                 previous: list[CheckResult], options: RunOptions) -> CheckResult:
    if options.only is not None and check.id not in options.only:
        return _skipped(check, "not selected in this run")
    status_of = {result.id: result.status for result in previous}
    blocked = [dependency for dependency in check.depends if status_of.get(dependency) != "pass"]
    if blocked:
        return _skipped(check, f"not run: depends on {', '.join(blocked)}, which did not pass")
    missing = submission.missing_file(check.target.file) if check.target else None
    if missing:
        return CheckResult(check.id, check.title, "error", 0.0, check.points, missing)
    started = time.perf_counter()
    if options.progress is not None:
        options.progress(check, None)
    try:
        result = run_check(check, session, run_context)
    except HarnessError:            # a broken spec or kit: the whole run stops with its message (exit status 2)
        raise
    except Exception as error:      # anything else the harness raised costs this check only, never the run
        result = harness_fault(check, error)
    result.duration = time.perf_counter() - started
    if options.progress is not None:
        options.progress(check, result)
    return result


def _skipped(check: CheckSpec, why: str) -> CheckResult:
    return CheckResult(check.id, check.title, "skip", 0.0, check.points, why)


def run_check(check: CheckSpec, session, run_context: RunContext) -> CheckResult:
    kind = registry.get(check.kind)
    if check.is_property:
        from .properties import run_property
        outcomes, counterexample = run_property(check, kind, session, run_context)
    else:
        outcomes = [run_case(check, kind, case, session, run_context) for case in check.cases]
        counterexample = None
    result = _summarise(check, outcomes, counterexample)
    result.notes = list(run_context.memo.get(("notes", check.id), []))     # adapters.base.add_note
    return result


def run_case(check: CheckSpec, kind, case: Case, session, run_context: RunContext) -> CaseOutcome:
    arrays, expected = _inputs_and_expected(check, kind, case, run_context)
    outcome = CaseOutcome(case.name, "pass", public=case.public, params=dict(case.params))
    try:
        execution = kind.execute(session, check, case, arrays, run_context)
    except ChildFailure as failure:
        outcome.status = "timeout" if failure.reply.status == "timeout" else "error"
        outcome.message = describe_failure(failure.reply, failure.doing, reveal=case.public)
        return outcome
    # An exception in the comparison is the harness's fault: it reaches _run_or_skip, which makes it this
    # check's error with the traceback (the submission's values are plain data, so it is never the student's).
    comparisons = kind.compare(check, case, arrays, expected, execution.values)
    outcome.metrics = {comparison.name: comparison.metrics for comparison in comparisons}
    if case.public:
        outcome.gallery = kind.gallery(case, arrays, expected, execution.values)
    failed = [comparison for comparison in comparisons if not comparison.ok]
    if failed:
        outcome.status = "fail"
        outcome.message = "; ".join(comparison.message for comparison in failed)
        store = run_context.lab.kit_store       # a kit matches the catalogue's outputs it stores (kitcheck)
        stored = store.mistakes(check.id, case.name, expected) if store is not None else None
        outcome.diagnosis = diagnose(kind, check, case, arrays, expected, execution.values,
                                     [comparison.output for comparison in failed], use_catalogue=store is None,
                                     stored=stored)
        outcome.artifacts = _artifacts(kind, failed, expected, execution.values)
    return outcome


def _artifacts(kind, failed, expected: dict, actual: dict) -> dict:
    """Expected and actual values of the failed outputs, kept in memory for the HTML report."""
    displays = {spec.name: spec.display for spec in kind.outputs}
    kept = {}
    for comparison in failed:
        name = comparison.output
        value = actual.get(name)
        if isinstance(value, np.ndarray) and value.size <= MAX_ARTIFACT_ELEMENTS and name in expected:
            kept[name] = {"expected": np.asarray(expected[name]), "actual": value,
                          "display": displays.get(name, "heatmap"), "label": comparison.name}
    return kept


def _inputs_and_expected(check: CheckSpec, kind, case: Case, run_context: RunContext) -> tuple[dict, dict]:
    """From the reference, or in kit mode from the kit's store (the reference is not there)."""
    store = run_context.lab.kit_store
    shared = run_context.lab.shared_values          # a batch computed them once for every submission
    found = shared.get(check.id, case.name) if shared is not None and store is None else None
    if found is not None:
        return found
    stored_inputs = store.inputs(check.id, case.name) if store is not None else {}
    arrays = stored_inputs or kind.make_inputs(check, case, run_context)
    if store is not None and kind.needs_reference(check):
        expected = store.expected(check.id, case.name)
        if not expected:
            raise HarnessError(f"{run_context.lab.kit_dir}: the kit has no expected values for {check.id}, "
                               f"case {case.name}: it is incomplete or damaged; make it again with `harness kit`")
        return arrays, expected
    return arrays, _expected(check, kind, case, arrays, run_context)


def _expected(check: CheckSpec, kind, case: Case, arrays: dict, run_context: RunContext) -> dict:
    try:
        return kind.expected(check, case, arrays, run_context)
    except HarnessError:
        raise
    except Exception as error:  # the reference refusing a case is a spec or harness bug, never the student's
        raise HarnessError(f"{check.id}, case {case.name}: the reference could not compute the expected "
                           f"values ({type(error).__name__}: {error})") from error


def _summarise(check: CheckSpec, outcomes: list[CaseOutcome], counterexample: dict | None) -> CheckResult:
    status = min((outcome.status for outcome in outcomes), key=_STATUS_PRECEDENCE.index, default="pass")
    first_bad = next((outcome for outcome in outcomes if outcome.status != "pass"), None)
    message, diagnosis = "", ""
    if first_bad is not None:
        label = "counterexample" if counterexample else f"case {first_bad.name}"
        message = f"{label}: {first_bad.message}"
        diagnosis = first_bad.diagnosis
    return CheckResult(
        id=check.id,
        title=check.title,
        status=status,
        points=check.points if status == "pass" else 0.0,
        max_points=check.points,
        message=message,
        metrics=_aggregate_metrics(outcomes),
        cases=outcomes,
        diagnosis=diagnosis,
        counterexample=counterexample,
    )


def _aggregate_metrics(outcomes: list[CaseOutcome]) -> dict:
    """The worst figures over all cases and outputs, for the one-line summary and the JSON."""
    worst: dict = {"cases": len(outcomes), "cases_passed": sum(o.status == "pass" for o in outcomes)}
    for outcome in outcomes:
        for output_metrics in outcome.metrics.values():
            for key in ("max_abs_error", "max_rel_error"):
                if key in output_metrics:     # a NaN figure counts as the worst (max() would drop it)
                    value = output_metrics[key]
                    worst[key] = max(worst.get(key, 0.0), float("inf") if value != value else value)
            if "mismatched" in output_metrics:
                worst["mismatched"] = worst.get("mismatched", 0) + output_metrics["mismatched"]
            if "notebook_rel_error" in output_metrics:   # the rel_error the course's notebook calls acceptable
                worst["notebook_rel_error"] = min(worst.get("notebook_rel_error", float("inf")),
                                                  output_metrics["notebook_rel_error"])
            if "ratio" in output_metrics:        # a speedup check: its figures are the check's figures
                worst.update({key: value for key, value in output_metrics.items() if not isinstance(value, list)})
    return worst


def case_for_example(check: CheckSpec, params: dict) -> Case:
    """A property example as a case, with a seed derived from its parameters (stable across runs)."""
    return Case(name="example", seed=stable_seed(check.id, repr(sorted(params.items()))), params=params,
                dtype=check.dtype, public=True)
