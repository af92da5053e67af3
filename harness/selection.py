"""Which checks a run selects (``--only``), and the list a user chooses them from.

    select_checks(spec, ["conv.forward_speedup"]) -> ("conv.forward_raw", "conv.forward_speedup")

A selected check brings the checks it depends on (they must pass first); an unknown id is a
HarnessError naming the closest known ids (difflib), so a typo costs one line, not a run.
Standard library only: the student kit uses this module too.
"""
from __future__ import annotations

import difflib

from .errors import HarnessError


def parse_only(values: list[str] | None) -> list[str] | None:
    """``--only a,b --only c`` -> ["a", "b", "c"]; None when nothing was given."""
    if not values:
        return None
    ids = [part.strip() for value in values for part in value.split(",")]
    if any(not part for part in ids):
        raise HarnessError(f"--only {','.join(values)!r}: an empty check id (write --only a,b or --only a --only b)")
    return list(dict.fromkeys(ids))


def select_checks(spec, only: list[str] | None) -> tuple[str, ...] | None:
    """The selected check ids and, transitively, those they depend on, in the spec's order."""
    if not only:
        return None
    known = [check.id for check in spec.checks]
    unknown = [check_id for check_id in only if check_id not in known]
    if unknown:
        raise HarnessError(f"unknown check id(s) for {spec.lab}: "
                           + "; ".join(_with_suggestion(check_id, known) for check_id in unknown)
                           + f" (all ids: `{_list_command(spec)}`)")
    selected, pending = set(), list(only)
    while pending:
        check_id = pending.pop()
        if check_id not in selected:
            selected.add(check_id)
            pending.extend(spec.check(check_id).depends)
    return tuple(check_id for check_id in known if check_id in selected)


def _with_suggestion(check_id: str, known: list[str]) -> str:
    close = difflib.get_close_matches(check_id, known, n=3, cutoff=0.6)
    return f"{check_id!r} (did you mean {' or '.join(map(repr, close))}?)" if close else repr(check_id)


def _list_command(spec) -> str:
    return "python check.pyz --list" if spec.kit else f"harness labs {spec.lab}"


def format_check_list(spec) -> str:
    """One line per check: id, points, kind of check, the tiers that require it, its title."""
    tiers_of: dict[str, list[str]] = {}
    for tier in spec.tiers:
        for check_id in tier.requires:
            tiers_of.setdefault(check_id, []).append(str(tier.level))
    width = max((len(check.id) for check in spec.checks), default=8)
    lines = [f"{spec.lab}: {spec.title}",
             f"  {'id':<{width}}  {'points':>6}  {'tiers':<9} title"]
    for check in spec.checks:
        tiers = ",".join(tiers_of.get(check.id, [])) or "-"
        hidden = sum(not case.public for case in check.cases)
        count = len(check.cases)
        what = "property" if check.is_property else f"{count} case{'s' if count != 1 else ''}" + (
            f", {hidden} hidden" if hidden else "")
        lines.append(f"  {check.id:<{width}}  {check.points:>6g}  {tiers:<9} {check.title} ({what})")
    lines.append(f"  {'total':<{width}}  {spec.max_score:>6g}")
    if spec.tiers:
        lines.append("tiers (level): " + "; ".join(
            f"{tier.level}{' ' + tier.title if tier.title else ''} = {', '.join(tier.requires)}" for tier in spec.tiers)
            + ". A tier is reached when all its checks and every lower tier's pass.")
    return "\n".join(lines)
