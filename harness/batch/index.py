"""index.html: the cohort's page, for the instructor.

Top to bottom: how many were graded and how (statuses); a score histogram; the pass rate of every
check with the most common diagnosis among its failures (which parts the class gets wrong most);
the distribution of speedup ratios per speedup check, against its threshold; a table of every
submission, sortable by any column (id, score, level, status), linking to each report; and the
entries that were not graded, with the reason.

One self-contained file that works offline: the shared styles (report/templates/styles.css.j2), inline
SVG charts (harness.report.svg), a few lines of inline script for sorting (the table reads fine
without it), no request to anywhere. Every text from a submission is escaped (jinja2 autoescape).
"""
from __future__ import annotations

import collections
import math
from pathlib import Path

from ..report import svg
from ..report.text import parts, shorten
from ..spec import LabSpec
from .layout import BatchPaths, write_atomically
from .status import CSS, LABELS
from .store import Record

TEMPLATES = Path(__file__).parent / "templates"
REPORT_TEMPLATES = Path(__file__).parent.parent / "report" / "templates"
HISTOGRAM_BINS = 10
CHART_WIDTH = 440           # two charts side by side on the page
SHORT_TEXT = 200            # characters of a diagnosis finding or a message in the checks table (full text: title)
RATIO_EDGES = (0.5, 1, 2, 4, 8, 16, 32, 64, 128)
BAR, PASS_BAR, FAIL_BAR, THRESHOLD_BAR = "#0b5ed7", "#1e7b34", "#b02a1e", "#6c757d"
JUDGED = ("graded", "timeout")          # statuses whose checks say something about the student's work


def render_index(records: list[Record], not_graded: list[tuple[str, str, str]], spec: LabSpec, paths: BatchPaths) -> str:
    import jinja2
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader([TEMPLATES, REPORT_TEMPLATES]), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template("index.html.j2").render(page=index_view(records, not_graded, spec, paths))


def write_index(records: list[Record], not_graded: list[tuple[str, str, str]], spec: LabSpec, paths: BatchPaths) -> Path:
    write_atomically(paths.index, render_index(records, not_graded, spec, paths))
    return paths.index


def index_view(records: list[Record], not_graded: list[tuple[str, str, str]], spec: LabSpec, paths: BatchPaths) -> dict:
    results = {record.id: record.result for record in records}
    judged = [record for record in records if record.status in JUDGED]
    counts = collections.Counter(record.status for record in records)
    counts["not_graded"] = len(not_graded)
    checks = check_rates([results[record.id] for record in judged], spec)
    return {
        "lab": spec.lab,
        "title": spec.title,
        "max_score": spec.max_score,
        "has_levels": bool(spec.tiers),
        "statuses": [{"status": status, "label": LABELS[status], "css": CSS[status], "count": counts[status]}
                     for status in LABELS if counts[status]],
        "total": len(records) + len(not_graded),
        "histogram": score_histogram(judged, spec.max_score),
        "mean": _mean([record.score for record in judged]),
        "median": _median([record.score for record in judged]),
        "checks": checks,
        "pass_chart": pass_rate_chart(checks),
        "speedups": speedup_distributions([results[record.id] for record in judged], spec),
        "rows": [_row(record, paths) for record in records],
        "not_graded": [{"id": entry_id, "label": LABELS.get(status, status), "reason": reason}
                       for entry_id, status, reason in not_graded],
        "excluded": len(records) - len(judged),
    }


def score_histogram(records: list[Record], max_score: float) -> str:
    """Bars of how many submissions scored in each tenth of the maximum (the top bin holds full marks)."""
    if not records or max_score <= 0:
        return ""
    width = max_score / HISTOGRAM_BINS
    counts = [0] * HISTOGRAM_BINS
    for record in records:
        counts[min(int((record.score or 0.0) / width), HISTOGRAM_BINS - 1)] += 1
    bars = [(f"{svg.fmt(index * width)}–{svg.fmt((index + 1) * width)}", float(count), BAR)
            for index, count in enumerate(counts)]
    return svg.bar_chart(bars, unit="submissions", title="score histogram", width=CHART_WIDTH)


def check_rates(results: list[dict], spec: LabSpec) -> list[dict]:
    """Per check in the spec's order: pass rate, the counts, the most common diagnosis of its failures."""
    rows = []
    for check in spec.checks:
        outcomes = [item for result in results for item in result.get("checks", []) if item["id"] == check.id]
        passed = sum(item["status"] == "pass" for item in outcomes)
        diagnoses = collections.Counter(item["diagnosis"] for item in outcomes
                                        if item["status"] != "pass" and item.get("diagnosis"))
        failed = [item["message"] for item in outcomes
                  if item["status"] not in ("pass", "skip") and item.get("message")]
        messages = collections.Counter(_short(message) for message in failed)
        common = diagnoses.most_common(1)
        diagnosis = common[0][0] if common else ""
        message = ""
        if messages and not common:           # an actual message of the most common kind, figures and all
            kind = messages.most_common(1)[0][0]
            message = next(message for message in failed if _short(message) == kind)
        rows.append({
            "id": check.id, "title": check.title, "points": check.points, "total": len(outcomes), "passed": passed,
            "rate": passed / len(outcomes) if outcomes else math.nan,
            "statuses": dict(collections.Counter(item["status"] for item in outcomes)),
            "diagnosis": diagnosis, "diagnosis_count": common[0][1] if common else 0,
            "diagnosis_parts": [shorten(part, SHORT_TEXT) for part in parts(diagnosis)],
            "diagnosis_full": "\n".join(parts(diagnosis)),
            "message": message, "message_parts": [shorten(part, SHORT_TEXT) for part in parts(message)],
            "message_full": "\n".join(parts(message)),
        })
    return rows


def pass_rate_chart(rows: list[dict]) -> str:
    bars = [(row["id"], 100.0 * row["rate"], PASS_BAR if row["rate"] >= 0.5 else FAIL_BAR)
            for row in rows if not math.isnan(row["rate"])]
    return svg.bar_chart(bars, unit="% passed", title="pass rate per check")


def speedup_distributions(results: list[dict], spec: LabSpec) -> list[dict]:
    """For every check whose metrics carry a speedup ratio: how the class's ratios spread, on a log scale."""
    found = []
    for check in spec.checks:
        ratios, threshold = [], None
        for result in results:
            for item in result.get("checks", []):
                metrics = item.get("metrics") or {}
                if item["id"] == check.id and isinstance(metrics.get("ratio"), (int, float)) and math.isfinite(metrics["ratio"]):
                    ratios.append(float(metrics["ratio"]))
                    threshold = metrics.get("min_ratio", threshold)
        if not ratios:
            continue
        found.append({"id": check.id, "count": len(ratios), "median": _median(ratios), "threshold": threshold,
                      "below": sum(ratio < threshold for ratio in ratios) if threshold else None,
                      "chart": _ratio_histogram(ratios, threshold)})
    return found


def _ratio_histogram(ratios: list[float], threshold) -> str:
    edges = (0.0,) + RATIO_EDGES + (math.inf,)
    bars = []
    for low, high in zip(edges, edges[1:]):
        count = sum(low <= ratio < high for ratio in ratios)
        label = f"< {svg.fmt(high)}x" if low == 0 else f"≥ {svg.fmt(low)}x" if high == math.inf else \
            f"{svg.fmt(low)}–{svg.fmt(high)}x"
        below = threshold is not None and high <= threshold
        bars.append((label, float(count), FAIL_BAR if below else PASS_BAR))
    while bars and bars[-1][1] == 0:          # no empty bins beyond the fastest
        bars.pop()
    return svg.bar_chart(bars, unit="submissions", title="speedup ratio (judged against the plain loop)",
                         width=CHART_WIDTH)


def _row(record: Record, paths: BatchPaths) -> dict:
    report = paths.report_html(record.folder)
    return {"id": record.id, "status": record.status, "label": LABELS.get(record.status, record.status),
            "css": CSS.get(record.status, "skip"), "score": record.score, "max_score": record.max_score,
            "level": record.level, "reason": record.reason,
            "report": report.relative_to(paths.out).as_posix() if record.report_html is not None else "",
            "result": paths.result_json(record.folder).relative_to(paths.out).as_posix(),
            "seconds": record.wall_seconds}


def _short(message: str) -> str:
    """A message without its case prefix and figures, so that the same failure counts as one (a key, never
    shown)."""
    import re
    text = re.sub(r"^(case [^:]{1,80}|counterexample): ", "", message)
    return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", text)[:160]


def _mean(values: list) -> float | None:
    values = [value for value in values if value is not None]
    return sum(values) / len(values) if values else None


def _median(values: list) -> float | None:
    import statistics
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None
