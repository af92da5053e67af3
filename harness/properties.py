"""Property-based checks: hypothesis draws cases, the reference judges each one.

``hypothesis.find`` searches for a case the submission gets wrong and shrinks
it to a minimal one (smallest shapes, stride, padding), which the report
shows as the counterexample. Runs are derandomized with no example database
and no deadline, so the same submission gets the same verdict and the same
counterexample every time. A timeout or crash ends the search at once: the
example that caused it is reported as is, because shrinking a hang costs a
timeout per attempt.
"""
from __future__ import annotations

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import NoSuchExample

from .results import CaseOutcome

_NOT_SHRINKABLE = ("timeout", "error")


def run_property(check, kind, session, run_context) -> tuple[list[CaseOutcome], dict | None]:
    from .runner import case_for_example, run_case

    outcomes: dict[str, CaseOutcome] = {}
    stopped: list[str] = []            # the key of an example that hung or crashed

    def fails(params: dict) -> bool:
        if stopped:
            return False
        key = repr(sorted(params.items()))
        if key not in outcomes:
            outcomes[key] = run_case(check, kind, case_for_example(check, params), session, run_context)
        status = outcomes[key].status
        if status in _NOT_SHRINKABLE:
            stopped.append(key)
        return status != "pass"

    search_settings = settings(
        max_examples=check.property.max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    try:
        minimal = find(kind.strategy(check), fails, settings=search_settings)
    except NoSuchExample:
        passed = [outcome for outcome in outcomes.values()]
        summary = CaseOutcome(f"{len(passed)} examples", "pass", params={"examples": len(passed)})
        return [summary], None
    key = stopped[0] if stopped else repr(sorted(minimal.items()))
    failing = outcomes[key]
    failing.name = "counterexample"
    counterexample = {"params": failing.params, "message": failing.message, "examples_tried": len(outcomes)}
    return [failing], counterexample
