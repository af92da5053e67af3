"""grades.csv: the gradebook, one row per entry of the class folder.

Columns: id (the entry's name in full), status (graded, timeout, harness_error, unreadable,
not_graded: harness.batch.status), score, max_score, level, one column per check, reason (why a row is
not a plain grade, and a report page that could not be drawn in full), report (the page, relative to the
CSV). A check's column holds the points it earned when the check is worth points (numbers, so that a
spreadsheet sums them to the score: a failed, errored or skipped scored check earns 0 either way), and
its status when it is worth none (pass, fail, error, timeout, skip: the 0-point property and
finite-difference checks, where a 0 would say nothing). Entries that
are not submissions have a row too, with their reason and no score. UTF-8 with a byte-order mark, so
Excel shows Chinese names as they are (Python reads it with encoding="utf-8-sig"). A cell that a
spreadsheet would run as a formula (starting with = + - @) gets a leading quote.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from ..spec import LabSpec
from .layout import BatchPaths, write_atomically
from .store import Record

FIXED = ("id", "status", "score", "max_score", "level")
TRAILING = ("reason", "report")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def gradebook_rows(records: list[Record], not_graded: list[tuple[str, str, str]], spec: LabSpec,
                   paths: BatchPaths) -> list[dict]:
    rows = []
    for record in records:
        outcomes = {check["id"]: check for check in record.result.get("checks", [])}
        row = {"id": _cell(record.id), "status": record.status, "score": _number(record.score),
               "max_score": _number(record.max_score), "level": "" if record.level is None else record.level,
               "reason": _cell(record.reason),
               "report": (paths.report_html(record.folder).relative_to(paths.out).as_posix()
                          if record.report_html is not None else "")}
        row.update({check.id: check_cell(check.points, outcomes.get(check.id)) for check in spec.checks})
        rows.append(row)
    for entry_id, status, reason in not_graded:
        rows.append({"id": _cell(entry_id), "status": status, "reason": _cell(reason)})
    rows.sort(key=lambda row: row["id"].lstrip("'"))
    return rows


def write_gradebook(records: list[Record], not_graded: list[tuple[str, str, str]], spec: LabSpec,
                    paths: BatchPaths) -> Path:
    columns = list(FIXED) + [check.id for check in spec.checks] + list(TRAILING)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(gradebook_rows(records, not_graded, spec, paths))
    write_atomically(paths.grades_csv, "\ufeff" + buffer.getvalue())
    return paths.grades_csv


def check_cell(points: float, outcome: dict | None):
    """A check's cell: the points earned for a check worth points, the status for one worth none, '' when the
    result does not hold the check."""
    if outcome is None:
        return ""
    if points:
        return _number(outcome.get("points"))
    return str(outcome.get("status", ""))


def _cell(text: str) -> str:
    """Text a spreadsheet must not read as a formula (a folder named "=HYPERLINK(...)"): a leading quote, as
    OWASP advises for CSV injection; every other id is written exactly."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _number(value) -> str | float:
    if value is None:
        return ""
    return int(value) if float(value).is_integer() else round(float(value), 4)
