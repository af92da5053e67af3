"""What a submission must fix to reach the next level of the rubric: the causes, not the symptoms.

harness.rubric gives the checks the next tier requires that did not pass. Some of them failed only because
another check did: style_transfer.run fails when the VGG19 it runs uses a broken conv.forward_speedup
(``CheckResult.root_cause``), and a check whose dependency (``depends`` in the spec) did not pass was not
run (the runner says which: "not run: depends on A, B, which did not pass"; a check left out by --only
is not run either, and that is no dependency's fault). Telling the student "needs
style_transfer.run" sends them to the wrong code; this names the check to fix and, beside it, the required
checks that fail because of it.

Runs on Python 3.9 with the standard library only (the student kit carries harness/report).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import rubric

# harness.runner._skipped's words for a check whose dependency did not pass
_DEPENDS = re.compile(r"^not run: depends on (.+), which did not pass$")


@dataclass
class Need:
    """A check to fix: ``id``; ``failing`` the required checks that fail because of it and ``waiting`` those
    not run because of it (both empty when the check is required and failed on its own account)."""

    id: str
    failing: list = field(default_factory=list)
    waiting: list = field(default_factory=list)

    @property
    def because(self) -> list:
        return self.failing + self.waiting


@dataclass
class NextLevel:
    level: int
    needs: list             # of Need, in the order the tier lists what they explain

    @property
    def ids(self) -> list:
        return [need.id for need in self.needs]


def next_level(tiers, checks):
    """The next tier not reached and what to fix for it, or None when every tier is reached (or there are
    none)."""
    if not tiers:
        return None
    missing = rubric.missing_for_next_tier(tiers, checks)
    if not missing:
        return None
    level, required = missing
    by_id = {check.id: check for check in checks}
    needs: dict = {}
    for check_id in required:
        for cause in _causes(check_id, by_id, set()):
            need = needs.setdefault(cause, Need(cause))
            if cause != check_id and check_id not in need.because:
                skipped = by_id[check_id].status == "skip" if check_id in by_id else False
                (need.waiting if skipped else need.failing).append(check_id)
    return NextLevel(level, list(needs.values()))


def _causes(check_id: str, by_id: dict, seen: set) -> list:
    """The checks to fix so that ``check_id`` can pass: its root cause, the failing checks it depends on
    (followed down), else itself."""
    if check_id in seen:
        return [check_id]
    seen = seen | {check_id}
    check = by_id.get(check_id)
    if check is None:
        return [check_id]
    cause = getattr(check, "root_cause", None)
    if cause and cause != check_id and cause in by_id and not by_id[cause].passed:
        return _causes(cause, by_id, seen)
    if check.status == "skip":
        blocked = [dependency for dependency in _blocked_by(check)
                   if dependency in by_id and not by_id[dependency].passed]
        if blocked:
            found: list = []
            for dependency in blocked:
                found += [cause for cause in _causes(dependency, by_id, seen) if cause not in found]
            return found
    return [check_id]


def _blocked_by(check) -> list:
    """The dependencies that kept a skipped check from running, as the runner named them."""
    match = _DEPENDS.match((check.message or "").strip())
    return [name.strip() for name in match.group(1).split(",")] if match else []


def describe(need: Need) -> str:
    """'conv.forward_speedup (style_transfer.run fails because of it)', or the id alone."""
    return need.id + (f" ({because(need)})" if need.because else "")


def because(need: Need) -> str:
    """'style_transfer.run fails because of it', 'a and b were not run because of it', ..."""
    said = []
    if need.failing:
        said.append(f"{_names(need.failing)} {'fails' if len(need.failing) == 1 else 'fail'}")
    if need.waiting:
        said.append(f"{_names(need.waiting)} {'was' if len(need.waiting) == 1 else 'were'} not run")
    return " and ".join(said) + " because of it" if said else ""


def _names(ids: list) -> str:
    return ids[0] if len(ids) == 1 else ", ".join(ids[:-1]) + " and " + ids[-1]
