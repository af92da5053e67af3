"""Property-based checks: hypothesis draws cases, the reference judges each one.

``hypothesis.find`` searches for a case the submission gets wrong and shrinks
it to a minimal one (smallest shapes, stride, padding), which the report
shows as the counterexample. Runs are derandomized with no example database
and no deadline, so the same submission gets the same verdict and the same
counterexample every time.

Every example's outcome is kept, so the predicate hypothesis sees is a pure
function of the example even when the submission is not (random outputs,
state kept between calls): hypothesis never sees a "flaky" test. A failure
that raised is shrunk like a wrong value (a method that raises on some inputs
gets its minimal input shown). A timeout ends the search at once: no new
example runs after it (unseen ones count as passing), because shrinking a hang
costs a timeout per attempt. Shrinking stops after ``SHRINK_RUNS`` new runs
or ``SHRINK_SECONDS`` (a crashing child restarts per example); the smallest
failing example seen so far is the counterexample.

If hypothesis itself raises after a failing example was seen, that example is
reported (the verdict is the submission's); otherwise the exception reaches
the runner, which records it as a harness fault of this check.
"""
from __future__ import annotations

import time

from .results import CaseOutcome

SHRINK_RUNS = 300
SHRINK_SECONDS = 60.0


def run_property(check, kind, session, run_context) -> tuple[list[CaseOutcome], dict | None]:
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    from .runner import case_for_example, run_case

    outcomes: dict[str, CaseOutcome] = {}
    search = _Search()

    def fails(params: dict) -> bool:
        key = repr(sorted(params.items()))
        if key not in outcomes:
            if not search.may_run(key):
                return False
            outcomes[key] = run_case(check, kind, case_for_example(check, params), session, run_context)
            search.ran(key, outcomes[key].status)
        return key in search.failing

    search_settings = settings(
        max_examples=check.property.max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    note = ""
    try:
        minimal = find(kind.strategy(check), fails, settings=search_settings)
        key = repr(sorted(minimal.items()))
    except NoSuchExample:
        summary = CaseOutcome(f"{len(outcomes)} examples", "pass", params={"examples": len(outcomes)})
        return [summary], None
    except Exception as error:      # hypothesis's own trouble: report what was seen, or let the runner record it
        if not search.failing:
            raise
        key = min(search.failing, key=lambda candidate: _size(outcomes[candidate].params))
        note = f"shrinking stopped early ({type(error).__name__})"
    failing = outcomes[key]
    failing.name = "counterexample"
    counterexample = {"params": failing.params, "message": failing.message, "examples_tried": len(outcomes)}
    if note:
        counterexample["note"] = note
    return [failing], counterexample


class _Search:
    """Which examples failed, and whether another example may still be run."""

    def __init__(self):
        self.failing: set[str] = set()
        self.hung: str | None = None
        self.first_failure: float | None = None
        self.runs_since_failure = 0

    def may_run(self, key: str) -> bool:
        if self.hung is not None:
            return False
        if self.first_failure is None:
            return True
        return self.runs_since_failure < SHRINK_RUNS and time.monotonic() - self.first_failure < SHRINK_SECONDS

    def ran(self, key: str, status: str) -> None:
        if self.first_failure is not None:
            self.runs_since_failure += 1
        if status == "pass":
            return
        self.failing.add(key)
        if self.first_failure is None:
            self.first_failure = time.monotonic()
        if status == "timeout":
            self.hung = key


def _size(params: dict) -> tuple:
    """Smaller first: the sum of the numbers in the example, then its text (a stable tie-break)."""
    total = 0
    for value in params.values():
        for number in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(number, (int, float)) and not isinstance(number, bool):
                total += abs(number)
    return total, repr(sorted(params.items()))
