"""Points and the course's cumulative tiers.

A tier is reached when every check it requires passed and every lower tier
was reached too (exp 3-1: 60 = conv and pool forward, 80 = + pool5, 100 = +
softmax and top-1). The spec is the only source of points and tier names.
"""
from __future__ import annotations

from .results import CheckResult
from .spec import Tier


def score(results: list[CheckResult]) -> tuple[float, float]:
    earned = sum(result.points for result in results)
    possible = sum(result.max_points for result in results)
    return round(earned, 6), round(possible, 6)


def level(tiers: list[Tier], results: list[CheckResult]) -> int | None:
    """The highest cumulative tier reached, 0 when none is, None when the lab has no tiers."""
    if not tiers:
        return None
    passed = {result.id for result in results if result.passed}
    reached = 0
    for tier in sorted(tiers, key=lambda t: t.level):
        if not set(tier.requires) <= passed:
            break
        reached = tier.level
    return reached


def missing_for_next_tier(tiers: list[Tier], results: list[CheckResult]) -> tuple[int, list[str]] | None:
    """(next level, the checks it still needs), for the student-facing summary."""
    passed = {result.id for result in results if result.passed}
    for tier in sorted(tiers, key=lambda t: t.level):
        missing = [check_id for check_id in tier.requires if check_id not in passed]
        if missing:
            return tier.level, missing
    return None
