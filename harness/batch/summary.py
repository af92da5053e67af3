"""The lines `harness grade` prints when a batch ends: what was graded, what was not and why, what changed."""
from __future__ import annotations

from .status import LABELS


def format_batch(outcome) -> str:
    """``outcome``: a harness.batch.run.BatchOutcome."""
    paths = outcome.paths
    kept = f"; {len(outcome.kept)} kept from the last run (unchanged)" if outcome.kept else ""
    lines = [f"{outcome.lab}: {len(outcome.graded_now)} graded now{kept}, {len(outcome.records)} in all, into "
             f"{paths.out} ({outcome.seconds:.1f} s)"]
    for record in outcome.records:
        if record.status != "graded":
            lines.append(f"  {LABELS[record.status]}: {record.id}: {record.reason}")
    for entry_id, status, reason in outcome.not_graded:
        lines.append(f"  {LABELS.get(status, status)}: {entry_id}: {reason}")
    for change in outcome.changes:
        level = (f" (level {change.previous_level} -> {change.level})" if change.previous_level != change.level else "")
        lines.append(f"  score changed: {change.id}: {_number(change.previous_score)} -> {_number(change.score)}{level}")
    for note in outcome.notes:
        lines.append(f"  note: {note}")
    lines.append(f"  {paths.index}, {paths.grades_csv.name}, {paths.junit.name}, gradescope/"
                 + (f", {paths.similarity.name}" if paths.similarity.is_file() else ""))
    return "\n".join(lines)


def _number(value) -> str:
    return "-" if value is None else f"{value:g}"
