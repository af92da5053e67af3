"""A self-contained HTML page for one submission (`harness check ... --html FILE`, `harness grade`).

Top to bottom: score and level; how the code was run (Python 2.7 or 3 semantics and why, emulated
legacy APIs); where to start (root causes, and each error that stopped several checks, shown once
with the checks it stopped); a table with one row per check, whose figures are the worst over all
cases; then one section per check (root causes first, then other failures, then the rest) with the
message, diagnosis, counterexample, a per-case table, pictures and charts. An instructor's toggle
(a closed <details>, no script) holds sandbox internals: isolation and its layers, notes, timings,
and tracebacks of harness faults; ``audience="student"`` leaves it out altogether.

Pictures are PNG data URIs (written here with zlib: no imaging library) and inline SVG (report.svg),
so the file travels alone and works offline. Small arrays and images are enlarged nearest-neighbour.

A report is never lost: a picture that cannot be drawn costs that picture only (a short note in its
place, the traceback in the instructor's section), and a page that cannot be rendered at all is replaced
by ``minimal_html``: what happened, and the result's checks as a plain table. Both leave a marker in the
page (``report_problem`` reads it) so that a batch's row can say so.

Hidden cases stay hidden: for a case the spec does not mark public the page shows only which
elements are outside the tolerance (a two-colour mask), never expected values or the error's size
per element (which, with the student's own output, would give the expected values away).
"""
from __future__ import annotations

import base64
import functools
import html as html_text
import json
import math
import re
import struct
import traceback
import zlib
from pathlib import Path

import numpy as np

from ..results import CheckResult, SubmissionResult
from . import svg
from .nextlevel import because, next_level
from .text import parts, shorten

TEMPLATES = Path(__file__).parent / "templates"
MAX_CHANNELS = 8
MAX_PLANE_SIDE = 256                                    # values: a larger plane is drawn in blocks, each its worst
MAX_CURVE_POINTS = 1000                                 # points of a curve drawn (a longer one is thinned)
WRAP_LENGTH = 256                                       # a longer 1-D output is drawn in rows of about sqrt(n)
MAP_SIDE, IMAGE_SIDE, MIN_STRIP = 96, 128, 24           # pixels: enlarged until the shorter side reaches these
MATCH, DIFFER = (222, 226, 230), (192, 57, 43)          # hidden-case mask colours (grey, red)
ERROR_SCALE = [(255, 255, 204), (254, 217, 118), (253, 141, 60), (227, 26, 28), (128, 0, 38)]
OURS, THEIRS = "#c0392b", "#6c757d"
STATUS_LABEL = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "timeout": "TIMEOUT", "skip": "SKIP"}
AUDIENCES = ("instructor", "student")
_CASE_PREFIX = re.compile(r"^(case [^:]{1,80}|counterexample): ")
PROBLEM_META = "harness-report-problem"                 # <meta name=... content=...>: what went wrong drawing it
MINIMAL = "the full page could not be drawn"            # the marker's words on minimal_html's page
_PROBLEM = re.compile(r'<meta name="' + PROBLEM_META + r'" content="([^"]*)">')


def render_html(result: SubmissionResult, tiers=None, audience: str = "instructor") -> str:
    """The page for ``result``. Never raises for what the result holds: a picture that cannot be drawn
    is a note in its place, and a page that cannot be rendered is ``minimal_html`` (ValueError only for
    an unknown ``audience``)."""
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")
    try:
        import jinja2      # here: a student kit renders HTML only where jinja2 happens to be installed
        return _template(jinja2).render(page=page_view(result, tiers, audience))
    except Exception as error:       # the page's fault, never the result's: a plain page still says it all
        return minimal_html(result, error, traceback.format_exc(), audience)


def report_problem(page: str | None) -> str:
    """What the page's marker says went wrong drawing it: '' for a complete page, MINIMAL and why for
    ``minimal_html``'s, how many pictures could not be drawn otherwise."""
    if page is None:
        return "no report page was written"
    match = _PROBLEM.search(page[:4096])
    return html_text.unescape(match.group(1)) if match else ""


@functools.lru_cache(maxsize=1)
def _template(jinja2):
    """The compiled page template, once per process: compiling it takes longer than rendering (a batch renders
    one page per submission)."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template("submission.html.j2")


def write_html(result: SubmissionResult, path: Path, tiers=None, audience: str = "instructor") -> str:
    """Write the page to ``path``; return what went wrong drawing it (report_problem), '' when nothing did."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(result, tiers, audience)
    path.write_text(page, encoding="utf-8")
    return report_problem(page)


def minimal_html(result, error: BaseException, trace: str = "", audience: str = "instructor") -> str:
    """The page when the full one cannot be rendered: what happened, the score and every check as a plain
    table (status, points, message, diagnosis), the traceback for instructors. Standard library only, and
    defensive about every field, so that a result the full page chokes on still gets a page."""
    what = f"{type(error).__name__}: {error}"
    try:
        body = _minimal_body(result, what, trace if audience == "instructor" else "")
    except Exception as second:      # even the plain page: say so, with both errors
        body = (f"<h1>Report</h1><p><strong>The report could not be drawn</strong> ({_escape(what)}; then "
                f"{_escape(f'{type(second).__name__}: {second}')}). The result's JSON holds every check.</p>")
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="{PROBLEM_META}" content="{_escape(shorten(f"{MINIMAL} ({what})", 300))}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>report (plain)</title>\n'
            "<style>body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; padding: 0 1em; }"
            " table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 0.3em 0.5em;"
            " border-bottom: 1px solid #dee2e6; vertical-align: top; } pre { white-space: pre-wrap; margin: 0; }"
            " ul { margin: 0; padding-left: 1.2em; } .problem { border-left: 5px solid #a0520a; background: #fdf3e6; padding: 0.7em 1em; }</style>\n"
            f"</head>\n<body>\n{body}\n</body>\n</html>\n")


def _minimal_body(result, what: str, trace: str) -> str:
    def number(value) -> str:
        return f"{value:g}" if isinstance(value, (int, float)) else _escape(value)

    lab, submission = getattr(result, "lab", "?"), getattr(result, "submission", "?")
    level = getattr(result, "level", None)
    rows = []
    for check in getattr(result, "checks", None) or []:
        status = str(getattr(check, "status", "?"))
        found = [_escape(part) for part in parts(getattr(check, "diagnosis", ""))]
        diagnosis = "<ul>" + "".join(f"<li>{part}</li>" for part in found) + "</ul>" if len(found) > 1 else "".join(found)
        rows.append(f"<tr><td>{_escape(getattr(check, 'id', '?'))}</td><td>{_escape(STATUS_LABEL.get(status, status))}"
                    f"</td><td>{number(getattr(check, 'points', ''))} / {number(getattr(check, 'max_points', ''))}</td>"
                    f"<td><pre>{_escape(getattr(check, 'message', ''))}</pre></td><td>{diagnosis}</td></tr>")
    error = getattr(result, "error", "")
    return "\n".join([
        f"<h1>{_escape(lab)}: {_escape(submission)}</h1>",
        f'<p class="problem"><strong>The full report could not be drawn</strong> ({_escape(what)}). This is a '
        "fault of the report, not a verdict on the code: the score and the checks below are the complete "
        "result; the result's JSON holds every figure.</p>",
        f"<p>Score {number(getattr(result, 'score', ''))} / {number(getattr(result, 'max_score', ''))}"
        + (f", level {number(level)}" if level is not None else "") + "</p>",
        f"<p><strong>This submission could not be checked:</strong> {_escape(error)}</p>" if error else "",
        "<table>\n<tr><th>check</th><th>status</th><th>points</th><th>message</th><th>diagnosis</th></tr>",
        *rows,
        "</table>",
        f"<details><summary>For instructors: the traceback</summary><pre>{_escape(trace)}</pre></details>"
        if trace else "",
    ])


def _escape(value) -> str:
    return html_text.escape(str(value), quote=True)


def anchor(check_id: str) -> str:
    """The element id of a check's section (ids with any character stay valid fragment targets)."""
    return "check-" + re.sub(r"[^A-Za-z0-9_.-]", "-", check_id)


# --- the page's data ----------------------------------------------------------------------------------


def page_view(result: SubmissionResult, tiers=None, audience: str = "instructor") -> dict:
    checks = result.checks
    problems = _problems(checks)
    problem_of = {check_id: problem for problem in problems for check_id in problem["checks"]}
    root_ids = _root_causes(checks)
    by_id = {check.id: check for check in checks}
    faults: list[dict] = []             # pictures that could not be drawn: tracebacks for the instructor
    views = [_check_view(check, problem_of.get(check.id), check.id in root_ids, by_id, faults) for check in checks]
    ordered = sorted(views, key=lambda view: (0 if view["is_root"] else 1 if view["failed"] else 2))
    counts = {status: sum(check.status == status for check in checks) for status in STATUS_LABEL}
    nxt = next_level(tiers, checks)
    return {
        "result": result,
        "counts": counts,
        "next_tier": nxt and {"level": nxt.level, "needs": [{"id": need.id, "because": because(need)}
                                                            for need in nxt.needs]},
        "run_notes": _run_notes(result),
        "roots": [by_id[check_id] for check_id in root_ids if check_id in by_id],
        "problems": problems,
        "rows": views,
        "details": ordered,
        "instructor": _instructor(result, faults) if audience == "instructor" else None,
        "problem": (f"{len(faults)} picture{'s' if len(faults) > 1 else ''} could not be drawn" if faults else ""),
        "anchor": anchor,
    }


def _root_causes(checks: list[CheckResult]) -> list[str]:
    """Ids that other checks name as their root cause (harness.root_cause), in the spec's order."""
    named = {getattr(check, "root_cause", None) for check in checks} - {None}
    return [check.id for check in checks if check.id in named]


def _problems(checks: list[CheckResult]) -> list[dict]:
    """Errors and timeouts with the same message in several checks (an import error, a missing file):
    each is shown once, naming the checks it stopped."""
    groups: dict[tuple, list[CheckResult]] = {}
    for check in checks:
        if check.status in ("error", "timeout") and check.message and not getattr(check, "harness_fault", False):
            groups.setdefault((check.status, _CASE_PREFIX.sub("", check.message)), []).append(check)
    problems = []
    for (status, message), members in groups.items():
        if len(members) >= 2:
            problems.append({"id": f"problem-{len(problems) + 1}", "status": status, "message": message,
                             "checks": [check.id for check in members],
                             "diagnosis": parts(next((check.diagnosis for check in members if check.diagnosis), ""))})
    return problems


def _run_notes(result: SubmissionResult) -> list[str]:
    """What a student should know about how their code was run."""
    notes = []
    semantics = getattr(result, "semantics", None) or {}
    if semantics.get("python"):
        division = f", {semantics['division']} division" if semantics.get("division") else ""
        reason = f": {semantics['reason']}" if semantics.get("reason") else ""
        notes.append(f"Your code was run with Python {semantics['python']} semantics{division}{reason}.")
    compat = (result.sandbox or {}).get("compat_used")
    if compat:
        notes.append("Removed library functions your code calls were emulated: " + ", ".join(map(str, compat)) + ".")
    return notes


def _instructor(result: SubmissionResult, drawing_faults: list[dict] = ()) -> dict:
    sandbox = dict(result.sandbox or {})
    isolation = sandbox.pop("isolation", None)
    semantics = getattr(result, "semantics", None) or {}
    faults = [{"id": check.id, "anchor": anchor(check.id), "traceback": getattr(check, "traceback", "")}
              for check in result.checks if getattr(check, "harness_fault", False)]
    return {
        "isolation": _describe_isolation(isolation),
        "isolation_json": json.dumps(isolation, indent=1, default=str) if isolation else "",
        "layers": sandbox.get("layers") or [],
        "sandbox_json": json.dumps(sandbox, indent=1, default=str),
        "semantics_json": json.dumps(semantics, indent=1, default=str) if semantics else "",
        "resources_json": json.dumps(result.resources or {}, indent=1, default=str),
        "faults": faults,
        "drawing_faults": list(drawing_faults),
        "durations": [(check.id, check.duration) for check in result.checks if check.duration],
    }


def _describe_isolation(isolation) -> str:
    if not isolation:
        return "not recorded"
    if isinstance(isolation, dict):
        mode = isolation.get("mode", "?")
        tool = " ".join(str(isolation[key]) for key in ("tool", "version") if isolation.get(key))
        return f"{mode}" + (f" ({tool})" if tool else "")
    return str(isolation)


def _check_view(check: CheckResult, problem: dict | None, is_root: bool, by_id: dict, faults: list) -> dict:
    root = getattr(check, "root_cause", None)
    view = {
        "check": check, "anchor": anchor(check.id), "status": check.status, "label": STATUS_LABEL.get(check.status, str(check.status).upper()),
        "failed": check.status in ("fail", "error", "timeout"), "is_root": is_root,
        "harness_fault": bool(getattr(check, "harness_fault", False)),
        "root_cause": root if root in by_id else None, "problem": problem,
        "message": "" if problem else check.message,
        "diagnosis": parts(check.diagnosis),
        "notes": [str(note) for note in getattr(check, "notes", None) or []],
        "figures": _drawn(check, "the figures", lambda: _aggregate_figures(check), faults,
                          "(the figures could not be shown)"),
        "cases": _drawn(check, "the table of cases", lambda: [_case_row(case) for case in check.cases], faults, []),
        "pictures": [], "timing_svg": "", "counterexample": None,
    }
    pictures = view["pictures"]
    for case in check.cases:
        for item in case.gallery or ():
            _add_pictures(pictures, check, f"{_title_of(item, 'pictures')} (case {case.name})",
                          lambda: _gallery_item(case, item), faults)
    if view["failed"]:
        for case in check.cases:
            shown = case.public or case.name == "counterexample"
            for artifact in (case.artifacts or {}).values():
                _add_pictures(pictures, check, f"{_title_of(artifact, 'an output')} (case {case.name})",
                              lambda: _pictures(case, artifact, shown), faults)
        if check.counterexample:
            view["counterexample"] = _drawn(check, "the minimal failing input", lambda: _counterexample(check),
                                            faults, None)
            if view["counterexample"] is None:
                pictures.append(_not_drawn("the minimal failing input"))
    view["timing_svg"] = _drawn(check, "the timing chart", lambda: _timing_svg(check), faults, None)
    if view["timing_svg"] is None:
        pictures.append(_not_drawn("the timing chart"))
        view["timing_svg"] = ""
    return view


def _add_pictures(pictures: list, check: CheckResult, title: str, draw, faults: list) -> None:
    drawn = _drawn(check, title, draw, faults, None)
    pictures.extend([_not_drawn(title)] if drawn is None else drawn)


def _drawn(check: CheckResult, what: str, draw, faults: list, failed):
    """``draw()``, or ``failed`` when it raises: one picture (or figure) costs itself only; the traceback
    goes to the instructor's section."""
    try:
        return draw()
    except Exception as error:
        faults.append({"id": check.id, "anchor": anchor(check.id), "what": what,
                       "error": shorten(f"{type(error).__name__}: {error}", 300), "traceback": traceback.format_exc()[-8000:]})
        return failed


def _not_drawn(title: str) -> dict:
    return _picture(title, note="This picture could not be drawn: a fault of the report, not of your code "
                                "(the message and figures above still hold).")


def _title_of(item, default: str) -> str:
    if isinstance(item, dict):
        return str(item.get("title") or item.get("label") or default)
    return default


def _timing_svg(check: CheckResult) -> str:
    speedup = _speedup_metrics(check)
    return timing_chart(speedup) if speedup else ""


# --- figures --------------------------------------------------------------------------------------------


def _aggregate_figures(check: CheckResult) -> str:
    """The table's figures: the worst over all cases and outputs (check.metrics), labelled as such."""
    metrics, parts = check.metrics, []
    if metrics.get("cases"):
        parts.append(f"{metrics.get('cases_passed', 0)} of {metrics['cases']} cases passed")
    parts += _error_figures(metrics)
    if metrics.get("mismatched"):
        parts.append(f"{metrics['mismatched']} values differ (all cases)")
    speedup = _speedup_metrics(check)
    if speedup:
        parts.append(speedup_text(speedup))
    return ", ".join(parts)


def _error_figures(metrics: dict) -> list[str]:
    parts = []
    if "max_abs_error" in metrics:
        parts.append(f"max abs error {metrics['max_abs_error']:.3g}")
    if "max_rel_error" in metrics:
        parts.append(f"rel_error {metrics['max_rel_error']:.2e}")
    return parts


def _case_row(case) -> dict:
    """One case in a check's section: its own figures, per output."""
    figures = []
    for output, metrics in (case.metrics or {}).items():
        if not isinstance(metrics, dict):
            continue
        if "ratio" in metrics:
            figures.append(f"{output}: {speedup_text(metrics)}")
            continue
        parts = _error_figures(metrics)
        if "mismatched" in metrics and "total" in metrics:
            parts.append(f"{metrics['mismatched']} of {metrics['total']} values differ")
        if parts:
            figures.append(f"{output}: " + ", ".join(parts))
    hidden = not case.public and case.name != "counterexample"
    return {"name": case.name, "status": case.status, "label": STATUS_LABEL.get(case.status, case.status.upper()),
            "visibility": "hidden" if hidden else "public", "figures": figures}


def speedup_text(metrics: dict) -> str:
    from .console import speedup_figure
    try:
        return speedup_figure(metrics)
    except (KeyError, TypeError, ValueError):
        return f"speedup {metrics.get('ratio')}"


def _speedup_metrics(check: CheckResult) -> dict | None:
    for case in check.cases:
        for metrics in (case.metrics or {}).values():
            if isinstance(metrics, dict) and "ratio" in metrics:
                return metrics
    return check.metrics if "ratio" in (check.metrics or {}) else None     # the check's copy of them


# --- pictures -------------------------------------------------------------------------------------------


def _gallery_item(case, item: dict) -> list[dict]:
    """A kind's pictures of a public case (style transfer: content, style, result, loss curve); nothing of a
    hidden case."""
    if not case.public:
        return []
    curves = item.get("curves")
    images = [png_data_uri(enlarge(_to_rgb(image), IMAGE_SIDE)) for image in item.get("images", ())]
    return [_picture(f"{item['title']} (case {case.name})", [{"src": src, "caption": ""} for src in images],
                     svg=loss_chart(*curves) if curves else "")]


def _pictures(case, artifact: dict, shown: bool) -> list[dict]:
    """A failed output's pictures: both images (a public image case), both loss curves, else where the output
    is outside the tolerance. Nothing for a scalar, a wrong shape or values without a numeric difference."""
    display, label = artifact.get("display", "heatmap"), artifact["label"]
    if display == "none":
        return []
    if case.public and case.gallery and display in ("image", "curve"):
        return []            # the gallery already shows both images and both curves
    expected, actual = np.asarray(artifact["expected"]), np.asarray(artifact["actual"])
    if expected.shape != actual.shape or expected.ndim == 0 or expected.size == 0:
        return []           # a scalar, nothing or a wrong shape: the message says all there is
    if not (_numeric(expected) and _numeric(actual)):
        return [_picture(f"{label} (case {case.name})",
                         note=f"Not drawn: values of type {actual.dtype} have no numeric difference to show.")]
    if display == "image" and shown and expected.ndim == 4 and expected.shape[1] == 3:
        return [_picture(f"{label} (case {case.name}): expected, then yours",
                         [{"src": png_data_uri(enlarge(_to_rgb(image[0]), IMAGE_SIDE)), "caption": caption}
                          for image, caption in ((expected, "expected"), (actual, "yours"))])]
    if display == "curve" and shown:
        return [_picture(f"{label} (case {case.name})", svg=loss_chart(expected, actual))]
    metrics = (case.metrics or {}).get(label) or {}
    return _difference_maps(label, case.name, expected, actual, metrics, shown)


def _picture(title: str, images: list[dict] = (), svg: str = "", legend: str = "", note: str = "") -> dict:
    return {"title": title, "images": list(images), "svg": svg, "legend": legend, "note": note}


def outside_tolerance(expected: np.ndarray, actual: np.ndarray, metrics: dict) -> np.ndarray:
    """Where the comparison's own test fails (harness.compare): the mask the mismatch count is of."""
    expected, actual = _as_numbers(expected), _as_numbers(actual)
    rtol, atol = metrics.get("rtol"), metrics.get("atol")
    with np.errstate(over="ignore", invalid="ignore"):
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0     # as harness.compare scales atol
        scale = scale if scale > 0 else 1.0
        difference = np.abs(actual - expected)
        if rtol is None or atol is None:          # a comparison that recorded no tolerance: any difference
            return ~(difference <= 0)
        return ~(difference <= atol * scale + rtol * np.abs(expected))


def _difference_maps(label: str, case_name: str, expected: np.ndarray, actual: np.ndarray, metrics: dict,
                     shown: bool) -> list[dict]:
    """Per channel (NCHW: the worst over the batch) where the output is outside the tolerance; a public
    case's maps show the size of the error, a hidden case's only where (two colours). Channels
    without a difference are not drawn, and neither is a map with none."""
    mask = outside_tolerance(expected, actual, metrics)
    with np.errstate(over="ignore", invalid="ignore"):
        error = np.nan_to_num(np.abs(_as_numbers(actual) - _as_numbers(expected)), nan=np.inf, posinf=np.inf)
    masks, errors, name, layout, noun = _planes(mask, error)
    differs = masks.reshape(len(masks), -1).any(axis=1)
    if not differs.any():
        return []
    chosen = np.flatnonzero(differs)
    clean = np.flatnonzero(~differs)
    note = f"{int(mask.sum())} of {mask.size} values are outside the tolerance."
    if layout:
        note += f" {layout}"
    if clean.size:
        note += (f" Not drawn (no difference): {', '.join(name(index) for index in clean[:12])}"
                 f"{' ...' if clean.size > 12 else ''}.")
    if chosen.size > MAX_CHANNELS:
        note += f" Drawn: the first {MAX_CHANNELS} of {chosen.size} {noun} that differ."
        chosen = chosen[:MAX_CHANNELS]
    drawn = []
    for index in chosen:
        plane_mask, plane_error, block = _fit(masks[index], errors[index])
        drawn.append((name(index), plane_mask, plane_error))
    if block:
        note += f" Each pixel stands for a block of {block[0]} x {block[1]} values (the worst of them)."
    if shown:
        finite = [float(e[m & np.isfinite(e)].max()) for _, m, e in drawn if (m & np.isfinite(e)).any()]
        peak = max(finite, default=1.0) or 1.0
        images = [{"src": png_data_uri(enlarge(_error_colours(m, e, peak), MAP_SIDE, MIN_STRIP)), "caption": name}
                  for name, m, e in drawn]
        legend = (_swatch(MATCH) + " within the tolerance &nbsp; outside it, by absolute error: "
                  + svg.colour_bar(ERROR_SCALE, "0", f"{svg.fmt(peak)}"))
        title = f"{label}, case {case_name}: absolute error where outside the tolerance"
    else:
        images = [{"src": png_data_uri(enlarge(_mask_colours(m), MAP_SIDE, MIN_STRIP)), "caption": name}
                  for name, m, _ in drawn]
        legend = _mask_legend()
        title = f"{label}, case {case_name}: where values are wrong (hidden case: no values shown)"
    return [_picture(title, images, legend=legend, note=note)]


def _numeric(array: np.ndarray) -> bool:
    return array.dtype.kind in "biufc"          # bool, integers, floats, complex: a difference has a size


def _as_numbers(array: np.ndarray) -> np.ndarray:
    """float64, or complex128 for complex values (their imaginary part counts in a difference)."""
    return np.asarray(array, dtype=np.complex128 if np.asarray(array).dtype.kind == "c" else np.float64)


def _real(array) -> np.ndarray:
    """float64 values to draw (a complex output's real part: a picture or curve has one number per point)."""
    array = np.asarray(array)
    return np.asarray(array.real if array.dtype.kind == "c" else array, dtype=np.float64)


def _planes(mask: np.ndarray, error: np.ndarray):
    """Any output as a stack of 2-D planes: (masks [P, H, W], errors [P, H, W], name of plane p, a note on the
    layout or '', what a plane is called in the plural). NCHW: a plane per channel, any / the worst over the batch; 3-D: a plane per leading index;
    N-D (N > 4): a plane per index of the leading axes, the last two drawn; 2-D: one; 1-D: one, in rows of
    about sqrt(n) when long."""
    if mask.ndim == 4:
        masks = mask.any(axis=0)
        errors = np.where(mask, error, 0).max(axis=0)
        return masks, errors, (lambda c: f"channel {c}"), "", "channels"
    if mask.ndim == 3:
        return mask, error, (lambda c: f"[{c}]"), "", "channels"
    if mask.ndim >= 5:
        leading = mask.shape[:-2]
        masks, errors = mask.reshape((-1,) + mask.shape[-2:]), error.reshape((-1,) + error.shape[-2:])
        return (masks, errors, (lambda p: "[" + ", ".join(str(int(i)) for i in np.unravel_index(p, leading)) + "]"),
                f"The output has {mask.ndim} axes {mask.shape}: one picture per index of the first {mask.ndim - 2}.",
                "pictures")
    if mask.ndim == 1 and mask.size > WRAP_LENGTH:
        width = int(math.ceil(math.sqrt(mask.size)))
        rows = -(-mask.size // width)
        padded_mask = np.zeros(rows * width, dtype=bool)
        padded_error = np.zeros(rows * width)
        padded_mask[:mask.size], padded_error[:mask.size] = mask, error
        return (padded_mask.reshape(1, rows, width), padded_error.reshape(1, rows, width), (lambda p: "all values"),
                f"The {mask.size} values are drawn in rows of {width}, in order.", "pictures")
    return mask.reshape((1,) + np.atleast_2d(mask).shape), error.reshape((1,) + np.atleast_2d(error).shape), \
        (lambda p: "all values"), "", "pictures"


def _fit(mask: np.ndarray, error: np.ndarray):
    """A plane of at most MAX_PLANE_SIDE x MAX_PLANE_SIDE: a larger one in blocks, each block's mask any of
    its values and its error the worst (so no difference disappears); (mask, error, block or None)."""
    height, width = mask.shape
    rows, columns = -(-height // MAX_PLANE_SIDE), -(-width // MAX_PLANE_SIDE)
    if rows == 1 and columns == 1:
        return mask, error, None
    padded_h, padded_w = -(-height // rows) * rows, -(-width // columns) * columns
    big_mask = np.zeros((padded_h, padded_w), dtype=bool)
    big_error = np.zeros((padded_h, padded_w))
    big_mask[:height, :width], big_error[:height, :width] = mask, np.where(mask, error, 0)
    shape = (padded_h // rows, rows, padded_w // columns, columns)
    return big_mask.reshape(shape).any(axis=(1, 3)), big_error.reshape(shape).max(axis=(1, 3)), (rows, columns)


def _swatch(colour: tuple[int, int, int]) -> str:
    return f'<span class="swatch" style="background: rgb{colour}"></span>'


def _mask_legend() -> str:
    return f"{_swatch(DIFFER)} outside the tolerance &nbsp; {_swatch(MATCH)} within it"


def _error_colours(mask: np.ndarray, error: np.ndarray, peak: float) -> np.ndarray:
    """Within the tolerance grey; outside it, the error's size on ERROR_SCALE (0 .. peak)."""
    rgb = _scale_colours(np.minimum(error, peak) / peak)
    rgb[~mask] = MATCH
    return rgb


def _mask_colours(mask: np.ndarray) -> np.ndarray:
    rgb = np.empty(mask.shape + (3,), dtype=np.uint8)
    rgb[...] = MATCH
    rgb[mask] = DIFFER
    return rgb


def _scale_colours(normalised: np.ndarray) -> np.ndarray:
    """Values in [0, 1] through ERROR_SCALE (light yellow to dark red), linearly between its stops."""
    stops = np.array(ERROR_SCALE, dtype=np.float64)
    position = np.clip(np.nan_to_num(normalised, nan=1.0), 0, 1) * (len(stops) - 1)
    low = np.floor(position).astype(int).clip(0, len(stops) - 2)
    fraction = (position - low)[..., None]
    return np.round(stops[low] * (1 - fraction) + stops[low + 1] * fraction).astype(np.uint8)


def enlarge(rgb: np.ndarray, side: int, min_short: int = 1) -> np.ndarray:
    """Nearest-neighbour enlargement by a whole factor (at most 24x, the longer side at most 4 * ``side``)
    until the shorter side reaches ``side`` pixels where it can; rows are repeated further until the
    shorter side is ``min_short`` pixels at least (a 1 x 64 strip stays visible)."""
    height, width = rgb.shape[:2]
    factor = -(-side // max(min(height, width), 1))
    factor = int(max(1, min(factor, 24, (4 * side) // max(height, width, 1))))
    rows = max(factor, -(-min_short // max(height, 1)))
    return np.repeat(np.repeat(rgb, rows, axis=0), factor, axis=1)


def _to_rgb(image_chw: np.ndarray) -> np.ndarray:
    """A mean-subtracted CHW image back to displayable RGB (the mean is the course's per-channel mean)."""
    mean = np.array([123.68, 116.779, 103.939]).reshape(3, 1, 1)
    image = np.nan_to_num(_real(image_chw))
    return np.clip(image + mean, 0, 255).astype(np.uint8).transpose(1, 2, 0)


def png_data_uri(rgb: np.ndarray) -> str:
    """An RGB uint8 array (H, W, 3) as a PNG data URI (PNG specification: IHDR, one IDAT, IEND)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"png_data_uri takes an (H, W, 3) array with H, W > 0, not shape {rgb.shape}")
    height, width = rgb.shape[:2]
    rows = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rgb.reshape(height, width * 3)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _counterexample(check: CheckResult) -> dict:
    counter = check.counterexample
    rows = []
    for case in check.cases:
        for artifact in case.artifacts.values():
            if artifact["expected"].size <= 64:
                rows.append({"name": artifact["label"], "expected": np.array2string(artifact["expected"], precision=4),
                             "actual": np.array2string(artifact["actual"], precision=4)})
    return {"params": counter.get("params"), "message": counter.get("message", ""), "rows": rows,
            "examples_tried": counter.get("examples_tried")}


# --- charts ---------------------------------------------------------------------------------------------


def timing_chart(metrics: dict) -> str:
    """Time per call (ms, log axis) of the student's raw and speedup paths, the course's plain loop (the
    reference's raw path, which the judged ratio is measured against) and the reference solution's speedup
    path, measured in the same run."""
    candidates = [("your raw", "raw_seconds", OURS), ("your speedup", "speedup_seconds", OURS),
                  ("your speedup", "fast_seconds", OURS),
                  ("course's plain loop", "reference_raw_seconds", THEIRS),
                  ("reference solution", "reference_speedup_seconds", THEIRS),
                  ("reference solution", "reference_fast_seconds", THEIRS)]
    bars, seen = [], set()
    for label, key, colour in candidates:
        value = metrics.get(key)
        if label not in seen and isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
            bars.append((label, value * 1e3, colour))
            seen.add(label)
    return svg.bar_chart(bars, "ms per call", log=True, title="time per call") if bars else ""


def loss_chart(expected: np.ndarray, actual: np.ndarray) -> str:
    """Total loss per step, the reference's and yours (first column of the [steps, 3] loss table)."""
    reference, yours = _real(expected), _real(actual)
    reference = reference[:, 0] if reference.ndim == 2 else reference.ravel()
    yours = yours[:, 0] if yours.ndim == 2 else yours.ravel()
    return svg.line_chart([("reference", *_thinned(reference), THEIRS), ("yours", *_thinned(yours), OURS)],
                          x_label="step", y_label="total loss (no unit)", title="total loss per step")


def _thinned(values: np.ndarray) -> tuple[list, list]:
    """(steps from 1, values) with at most MAX_CURVE_POINTS points, evenly spaced steps, the last one kept
    (a chart is a few hundred pixels wide; an output of a million values would make a page of megabytes)."""
    steps = np.arange(1, len(values) + 1)
    if len(values) > MAX_CURVE_POINTS:
        keep = np.unique(np.linspace(0, len(values) - 1, MAX_CURVE_POINTS).round().astype(int))
        steps, values = steps[keep], values[keep]
    return steps.tolist(), values.tolist()
