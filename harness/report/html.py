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

Hidden cases stay hidden: for a case the spec does not mark public the page shows only which
elements are outside the tolerance (a two-colour mask), never expected values or the error's size
per element (which, with the student's own output, would give the expected values away).
"""
from __future__ import annotations

import base64
import functools
import json
import math
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from .. import rubric
from ..results import CheckResult, SubmissionResult
from . import svg

TEMPLATES = Path(__file__).parent / "templates"
MAX_CHANNELS = 8
MAP_SIDE, IMAGE_SIDE, MIN_STRIP = 96, 128, 24           # pixels: enlarged until the shorter side reaches these
MATCH, DIFFER = (222, 226, 230), (192, 57, 43)          # hidden-case mask colours (grey, red)
ERROR_SCALE = [(255, 255, 204), (254, 217, 118), (253, 141, 60), (227, 26, 28), (128, 0, 38)]
OURS, THEIRS = "#c0392b", "#6c757d"
STATUS_LABEL = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "timeout": "TIMEOUT", "skip": "SKIP"}
AUDIENCES = ("instructor", "student")
_CASE_PREFIX = re.compile(r"^(case [^:]{1,80}|counterexample): ")


def render_html(result: SubmissionResult, tiers=None, audience: str = "instructor") -> str:
    import jinja2          # here: a student kit renders HTML only where jinja2 happens to be installed
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")
    return _template(jinja2).render(page=page_view(result, tiers, audience))


@functools.lru_cache(maxsize=1)
def _template(jinja2):
    """The compiled page template, once per process: compiling it takes longer than rendering (a batch renders
    one page per submission)."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template("submission.html.j2")


def write_html(result: SubmissionResult, path: Path, tiers=None, audience: str = "instructor") -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, tiers, audience), encoding="utf-8")


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
    views = [_check_view(check, problem_of.get(check.id), check.id in root_ids, by_id) for check in checks]
    ordered = sorted(views, key=lambda view: (0 if view["is_root"] else 1 if view["failed"] else 2))
    counts = {status: sum(check.status == status for check in checks) for status in STATUS_LABEL}
    return {
        "result": result,
        "counts": counts,
        "next_tier": rubric.missing_for_next_tier(tiers, checks) if tiers else None,
        "run_notes": _run_notes(result),
        "roots": [by_id[check_id] for check_id in root_ids if check_id in by_id],
        "problems": problems,
        "rows": views,
        "details": ordered,
        "instructor": _instructor(result) if audience == "instructor" else None,
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
                             "diagnosis": next((check.diagnosis for check in members if check.diagnosis), "")})
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


def _instructor(result: SubmissionResult) -> dict:
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


def _check_view(check: CheckResult, problem: dict | None, is_root: bool, by_id: dict) -> dict:
    root = getattr(check, "root_cause", None)
    view = {
        "check": check, "anchor": anchor(check.id), "status": check.status, "label": STATUS_LABEL[check.status],
        "failed": check.status in ("fail", "error", "timeout"), "is_root": is_root,
        "harness_fault": bool(getattr(check, "harness_fault", False)),
        "root_cause": root if root in by_id else None, "problem": problem,
        "message": "" if problem else check.message,
        "notes": [str(note) for note in getattr(check, "notes", None) or []],
        "figures": _aggregate_figures(check),
        "cases": [_case_row(case) for case in check.cases],
        "pictures": _gallery(check), "timing_svg": "", "counterexample": None,
    }
    if view["failed"]:
        for case in check.cases:
            shown = case.public or case.name == "counterexample"
            for artifact in case.artifacts.values():
                if case.public and case.gallery and artifact["display"] in ("image", "curve"):
                    continue            # the gallery already shows both images and both curves
                view["pictures"].extend(_pictures(case, artifact, shown))
        if check.counterexample:
            view["counterexample"] = _counterexample(check)
    speedup = _speedup_metrics(check)
    if speedup:
        view["timing_svg"] = timing_chart(speedup)
    return view


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
    return None


# --- pictures -------------------------------------------------------------------------------------------


def _gallery(check: CheckResult) -> list[dict]:
    """The kinds' pictures of public cases (style transfer: content, style, result, loss curve)."""
    pictures = []
    for case in check.cases:
        if not case.public:
            continue
        for item in case.gallery:
            curves = item.get("curves")
            images = [png_data_uri(enlarge(_to_rgb(image), IMAGE_SIDE)) for image in item.get("images", ())]
            pictures.append(_picture(f"{item['title']} (case {case.name})",
                                     [{"src": src, "caption": ""} for src in images],
                                     svg=loss_chart(*curves) if curves else ""))
    return pictures


def _pictures(case, artifact: dict, shown: bool) -> list[dict]:
    expected, actual, label = artifact["expected"], artifact["actual"], artifact["label"]
    if expected.shape != actual.shape or expected.ndim == 0 or artifact["display"] == "none":
        return []           # a scalar or a wrong shape: the message says all there is
    display = artifact["display"]
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
    expected, actual = expected.astype(np.float64), actual.astype(np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    scale = scale if scale > 0 else 1.0
    rtol, atol = metrics.get("rtol"), metrics.get("atol")
    with np.errstate(over="ignore", invalid="ignore"):
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
    error = np.nan_to_num(np.abs(actual.astype(np.float64) - expected.astype(np.float64)), nan=np.inf, posinf=np.inf)
    planes, names = _planes(mask, error)
    drawn = [(name, plane_mask, plane_error) for name, (plane_mask, plane_error) in zip(names, planes)
             if plane_mask.any()]
    if not drawn:
        return []
    total = int(mask.sum())
    clean = [name for name, (plane_mask, _) in zip(names, planes) if not plane_mask.any()]
    note = f"{total} of {mask.size} values are outside the tolerance."
    if clean:
        note += f" Not drawn (no difference): {', '.join(clean[:12])}{' ...' if len(clean) > 12 else ''}."
    if len(drawn) > MAX_CHANNELS:
        note += f" Drawn: the first {MAX_CHANNELS} of {len(drawn)} channels that differ."
        drawn = drawn[:MAX_CHANNELS]
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


def _planes(mask: np.ndarray, error: np.ndarray) -> tuple[list, list[str]]:
    if mask.ndim == 4:                                  # NCHW: one plane per channel, any/worst over the batch
        return ([(mask[:, c].any(axis=0), np.where(mask[:, c], error[:, c], 0).max(axis=0))
                 for c in range(mask.shape[1])], [f"channel {c}" for c in range(mask.shape[1])])
    if mask.ndim == 3:
        return [(mask[c], error[c]) for c in range(mask.shape[0])], [f"[{c}]" for c in range(mask.shape[0])]
    return [(np.atleast_2d(mask), np.atleast_2d(error))], ["all values"]


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
    image = np.nan_to_num(np.asarray(image_chw, dtype=np.float64))
    return np.clip(image + mean, 0, 255).astype(np.uint8).transpose(1, 2, 0)


def png_data_uri(rgb: np.ndarray) -> str:
    """An RGB uint8 array (H, W, 3) as a PNG data URI (PNG specification: IHDR, one IDAT, IEND)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
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
    """Time per call of the student's and the reference's paths (ms, log axis), measured in the same run."""
    candidates = [("your raw", "raw_seconds", OURS), ("your speedup", "speedup_seconds", OURS),
                  ("your speedup", "fast_seconds", OURS),
                  ("reference raw", "reference_raw_seconds", THEIRS),
                  ("reference speedup", "reference_speedup_seconds", THEIRS),
                  ("reference speedup", "reference_fast_seconds", THEIRS)]
    bars, seen = [], set()
    for label, key, colour in candidates:
        value = metrics.get(key)
        if label not in seen and isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
            bars.append((label, value * 1e3, colour))
            seen.add(label)
    return svg.bar_chart(bars, "ms per call", log=True, title="time per call") if bars else ""


def loss_chart(expected: np.ndarray, actual: np.ndarray) -> str:
    """Total loss per step, the reference's and yours (first column of the [steps, 3] loss table)."""
    reference, yours = np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    reference = reference[:, 0] if reference.ndim == 2 else reference.ravel()
    yours = yours[:, 0] if yours.ndim == 2 else yours.ravel()
    return svg.line_chart([("reference", list(range(1, len(reference) + 1)), reference.tolist(), THEIRS),
                           ("yours", list(range(1, len(yours) + 1)), yours.tolist(), OURS)],
                          x_label="step", y_label="total loss (no unit)", title="total loss per step")
