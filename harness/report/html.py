"""A self-contained HTML page for one submission (`harness check ... --html FILE`).

Score and tier, one row per check with status and error figures, then for
each check that did not pass: the message, the diagnosis, the minimal
counterexample, a picture of where the output differs, the timing chart; and
for public cases, pass or fail, what the kind shows (``Kind.gallery``: for
style transfer the content, style and result images and the loss curve).
Pictures are PNG data URIs and inline SVG, so the file travels alone.

Hidden cases stay hidden: for a case the spec does not mark public the page
shows only which elements are wrong (a mismatch mask), never expected values
or the error's size per element (which, with the student's own output, would
give the expected values away).
"""
from __future__ import annotations

import base64
import io
from pathlib import Path

import jinja2
import numpy as np

from .. import rubric
from .console import speedup_figure
from ..results import CheckResult, SubmissionResult

TEMPLATES = Path(__file__).parent / "templates"
MAX_CHANNELS = 8


def render_html(result: SubmissionResult, tiers=None) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    template = environment.get_template("submission.html.j2")
    return template.render(result=result, checks=[_check_view(check) for check in result.checks],
                           next_tier=rubric.missing_for_next_tier(tiers, result.checks) if tiers else None)


def write_html(result: SubmissionResult, path: Path, tiers=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, tiers), encoding="utf-8")


def _check_view(check: CheckResult) -> dict:
    view = {"check": check, "figures": _figures(check), "pictures": _gallery(check), "timing_svg": "",
            "counterexample": None}
    if check.status in ("fail", "error", "timeout"):
        for case in check.cases:
            shown = case.public or case.name == "counterexample"
            for name, artifact in case.artifacts.items():
                if case.public and case.gallery and artifact["display"] in ("image", "curve"):
                    continue            # the gallery above already shows both images and both curves
                view["pictures"].extend(_pictures(case.name, artifact, shown))
        if check.counterexample:
            view["counterexample"] = _counterexample(check)
    speedup = _speedup_metrics(check)
    if speedup:
        view["timing_svg"] = timing_chart(speedup)
    return view


def _gallery(check: CheckResult) -> list[dict]:
    """The kinds' pictures of public cases (style transfer: content, style, result, loss curve)."""
    pictures = []
    for case in check.cases:
        if not case.public:
            continue
        for item in case.gallery:
            curves = item.get("curves")
            pictures.append(_picture(f"{item['title']} (case {case.name})",
                                     images=[_png(_to_rgb(image)) for image in item.get("images", ())],
                                     svg=loss_chart(*curves) if curves else ""))
    return pictures


def _figures(check: CheckResult) -> str:
    metrics, parts = check.metrics, []
    if "max_abs_error" in metrics:
        parts.append(f"max abs error {metrics['max_abs_error']:.3g}")
    if "max_rel_error" in metrics:
        parts.append(f"rel_error {metrics['max_rel_error']:.2e}")
    if metrics.get("mismatched"):
        parts.append(f"{metrics['mismatched']} mismatched")
    speedup = _speedup_metrics(check)
    if speedup:
        parts.append(speedup_figure(speedup))
    return ", ".join(parts)


def _speedup_metrics(check: CheckResult) -> dict | None:
    for case in check.cases:
        metrics = case.metrics.get("speedup")
        if metrics and "ratio" in metrics:
            return metrics
    return None


def _pictures(case_name: str, artifact: dict, shown: bool) -> list[dict]:
    expected, actual, label = artifact["expected"], artifact["actual"], artifact["label"]
    if expected.shape != actual.shape or expected.ndim == 0 or artifact["display"] == "none":
        return []           # a scalar or a wrong shape: the message says all there is
    display = artifact["display"]
    if display == "image" and shown and expected.ndim == 4 and expected.shape[1] == 3:
        return [_picture(f"{label} (case {case_name}): expected, yours",
                         images=[_png(_to_rgb(expected[0])), _png(_to_rgb(actual[0]))])]
    if display == "curve" and shown:
        return [_picture(f"{label} (case {case_name})", svg=loss_chart(expected, actual))]
    return [_picture(_map_title(label, case_name, shown), images=_error_maps(expected, actual, shown))]


def _picture(title: str, images: list[str] = (), svg: str = "") -> dict:
    return {"title": title, "images": list(images), "svg": svg}


def _map_title(label: str, case_name: str, shown: bool) -> str:
    what = "absolute error" if shown else "where values are wrong (hidden case: no values shown)"
    return f"{label}, case {case_name}: {what} per channel (brighter = larger)"


def _error_maps(expected: np.ndarray, actual: np.ndarray, shown: bool) -> list[str]:
    error = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    if not shown:
        error = (error > 1e-6 * max(float(np.abs(expected).max()), 1e-300)).astype(np.float64)
    if error.ndim == 4:                     # NCHW: one map per channel, worst over the batch
        maps = [error[:, channel].max(axis=0) for channel in range(min(error.shape[1], MAX_CHANNELS))]
    elif error.ndim in (1, 2):
        maps = [np.atleast_2d(error)]
    else:
        maps = [error.reshape(error.shape[0], -1)]
    peak = max(float(m.max()) for m in maps) or 1.0
    return [_png(_heat(m / peak)) for m in maps]


def _heat(normalised: np.ndarray) -> np.ndarray:
    """Black -> red -> yellow -> white, enlarged so small maps stay visible."""
    value = np.clip(normalised, 0, 1)
    rgb = np.stack([np.clip(3 * value, 0, 1), np.clip(3 * value - 1, 0, 1), np.clip(3 * value - 2, 0, 1)], axis=-1)
    scale = max(1, 96 // max(value.shape))
    return np.kron((rgb * 255).astype(np.uint8), np.ones((scale, scale, 1), dtype=np.uint8))


def _to_rgb(image_chw: np.ndarray) -> np.ndarray:
    """A mean-subtracted CHW image back to displayable RGB (the mean is the course's per-channel mean)."""
    mean = np.array([123.68, 116.779, 103.939]).reshape(3, 1, 1)
    return np.clip(image_chw + mean, 0, 255).astype(np.uint8).transpose(1, 2, 0)


def _png(rgb: np.ndarray) -> str:
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _counterexample(check: CheckResult) -> dict:
    counter = check.counterexample
    rows = []
    for case in check.cases:
        for name, artifact in case.artifacts.items():
            if artifact["expected"].size <= 64:
                rows.append({"name": artifact["label"], "expected": np.array2string(artifact["expected"], precision=4),
                             "actual": np.array2string(artifact["actual"], precision=4)})
    return {"params": counter.get("params"), "message": counter.get("message", ""), "rows": rows,
            "examples_tried": counter.get("examples_tried")}


def timing_chart(metrics: dict) -> str:
    """Bars: student raw, student speedup, reference raw, reference speedup (ms per call, log scale)."""
    bars = [("your raw", metrics.get("raw_seconds")), ("your speedup", metrics.get("speedup_seconds")),
            ("reference raw", metrics.get("reference_raw_seconds")),
            ("reference speedup", metrics.get("reference_speedup_seconds"))]
    bars = [(label, seconds) for label, seconds in bars if seconds and np.isfinite(seconds)]   # NaN: uncalibrated
    if not bars:
        return ""
    logs = [np.log10(seconds * 1e3) for _, seconds in bars]
    low, high = min(logs) - 0.5, max(logs) + 0.2
    width, row = 420, 26
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 200}" height="{row * len(bars) + 10}" '
             'font-family="sans-serif" font-size="12">']
    for index, ((label, seconds), log) in enumerate(zip(bars, logs)):
        length = max(2.0, (log - low) / (high - low) * width)
        y = 5 + index * row
        colour = "#c0392b" if label.startswith("your") else "#7f8c8d"
        parts.append(f'<text x="0" y="{y + 15}">{label}</text>')
        parts.append(f'<rect x="120" y="{y}" width="{length:.1f}" height="18" fill="{colour}"/>')
        parts.append(f'<text x="{125 + length:.1f}" y="{y + 14}">{seconds * 1e3:.3g} ms</text>')
    parts.append("</svg>")
    return "".join(parts)


def loss_chart(expected: np.ndarray, actual: np.ndarray) -> str:
    """Total loss per step, reference and yours (first column of the [steps, 3] loss table)."""
    series = [("reference", np.asarray(expected)[:, 0], "#7f8c8d"), ("yours", np.asarray(actual)[:, 0], "#c0392b")]
    values = np.concatenate([s for _, s, _ in series])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return ""
    low, high = float(values.min()), float(values.max()) or 1.0
    span = (high - low) or 1.0
    width, height = 360, 160
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 120}" height="{height + 30}" '
             'font-family="sans-serif" font-size="12">']
    for label, points, colour in series:
        steps = len(points)
        coords = [(10 + i * width / max(steps - 1, 1), 10 + (1 - (p - low) / span) * height)
                  for i, p in enumerate(points) if np.isfinite(p)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if coords:
            parts.append(f'<text x="{coords[-1][0] + 6:.1f}" y="{coords[-1][1]:.1f}" fill="{colour}">{label}</text>')
    parts.append(f'<text x="10" y="{height + 25}">total loss per step ({low:.4g} .. {high:.4g})</text></svg>')
    return "".join(parts)
