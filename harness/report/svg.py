"""Small inline-SVG charts for the HTML reports: axes with ticks and units, a legend that never overlaps.

    line_chart([("reference", xs, ys, "#6c757d"), ("yours", xs, ys2, "#c0392b")], x_label="step",
               y_label="total loss")
    bar_chart([("your raw", 12.5, "#c0392b"), ...], unit="ms per call", log=True)

Pure text (no plotting library), standard library only, so a student kit can draw them too. The legend
sits in its own row above the plot area; value labels of bars sit in a reserved right margin. Every
number is escaped text; nothing in a chart comes from a submission except numbers.
"""
from __future__ import annotations

import html
import math

FONT = 'font-family="system-ui, sans-serif" font-size="12"'
AXIS_COLOUR = "#495057"
GRID_COLOUR = "#dee2e6"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5, 5 x 10^k steps)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(multiple * power for multiple in (1, 2, 2.5, 5, 10) if multiple * power >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten covering [low, high] (both > 0)."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    if last == first:
        last += 1
    return [10.0 ** exponent for exponent in range(first, last + 1)]


def fmt(value: float) -> str:
    """A tick label: 3 significant digits, no trailing zeros, exponent only when needed."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.3g}"
    return f"{value:.1e}".replace("e-0", "e-").replace("e+0", "e")


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{html.escape(text)}</text>'


def _legend(entries: list[tuple[str, str]], x: float, y: float) -> list[str]:
    parts, offset = [], 0.0
    for label, colour in entries:
        parts.append(f'<rect x="{x + offset:.1f}" y="{y - 9:.1f}" width="14" height="10" fill="{colour}"/>')
        parts.append(_text(x + offset + 19, y, label))
        offset += 19 + 7.2 * len(label) + 18
    return parts


def line_chart(series: list[tuple[str, list, list, str]], x_label: str, y_label: str, title: str = "",
               width: int = 520, height: int = 260) -> str:
    """Lines over a shared x axis. ``series``: (label, xs, ys, colour); non-finite points are left out.
    The y axis is logarithmic when every value is positive and they span more than two decades."""
    points = [(x, y) for _, xs, ys, _ in series for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
    if not points:
        return ""
    xs_all, ys_all = [p[0] for p in points], [p[1] for p in points]
    use_log = min(ys_all) > 0 and max(ys_all) / min(ys_all) > 100
    left, right, top, bottom = 70, 20, 34, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    x_ticks = nice_ticks(min(xs_all), max(xs_all), 6)
    if use_log:
        y_ticks = log_ticks(min(ys_all), max(ys_all))
        y_low, y_high = math.log10(y_ticks[0]), math.log10(y_ticks[-1])
        y_pos = lambda v: top + plot_h * (1 - (math.log10(v) - y_low) / (y_high - y_low))   # noqa: E731
    else:
        y_ticks = nice_ticks(min(ys_all), max(ys_all), 5)
        y_low, y_high = y_ticks[0], y_ticks[-1]
        y_pos = lambda v: top + plot_h * (1 - (v - y_low) / ((y_high - y_low) or 1))          # noqa: E731
    x_low, x_high = x_ticks[0], x_ticks[-1]
    x_pos = lambda v: left + plot_w * (v - x_low) / ((x_high - x_low) or 1)                    # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" {FONT}>']
    if title:
        parts.append(f"<title>{html.escape(title)}</title>")
    for tick in y_ticks:
        y = y_pos(tick)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID_COLOUR}"/>')
        parts.append(_text(left - 6, y + 4, fmt(tick), "end"))
    for tick in x_ticks:
        x = x_pos(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 4}" '
                     f'stroke="{AXIS_COLOUR}"/>')
        parts.append(_text(x, top + plot_h + 17, fmt(tick), "middle"))
    parts.append(f'<path d="M{left},{top} V{top + plot_h} H{left + plot_w}" fill="none" stroke="{AXIS_COLOUR}"/>')
    for label, xs, ys, colour in series:
        coords = [f"{x_pos(x):.1f},{y_pos(y):.1f}" for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
        if coords:
            parts.append(f'<polyline points="{" ".join(coords)}" fill="none" stroke="{colour}" stroke-width="2">'
                         f"<title>{html.escape(label)}</title></polyline>")
    parts.append(_text(left + plot_w / 2, height - 8, x_label, "middle"))
    y_text = y_label + (" (log scale)" if use_log else "")
    parts.append(_text(14, top + plot_h / 2, y_text, "middle", f' transform="rotate(-90 14 {top + plot_h / 2:.1f})"'))
    parts += _legend([(label, colour) for label, _, _, colour in series], left, 16)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: list[tuple[str, float, str]], unit: str, log: bool = False, title: str = "",
              width: int = 560) -> str:
    """Horizontal bars with labels on the left, the value at each bar's end and an axis in ``unit``.
    Non-finite or non-positive values (on a log axis) are left out."""
    bars = [(label, value, colour) for label, value, colour in bars
            if math.isfinite(value) and (value > 0 if log else value >= 0)]
    if not bars:
        return ""
    label_w = max(len(label) for label, _, _ in bars) * 7 + 14
    value_w, row, top = 90, 24, 8
    plot_w = width - label_w - value_w
    values = [value for _, value, _ in bars]
    if log:
        ticks = log_ticks(min(values) / 2, max(values))
        low, high = math.log10(ticks[0]), math.log10(ticks[-1])
        pos = lambda v: label_w + plot_w * (math.log10(v) - low) / (high - low)                # noqa: E731
    else:
        ticks = nice_ticks(0, max(values), 5)
        pos = lambda v: label_w + plot_w * v / (ticks[-1] or 1)                                 # noqa: E731
    plot_h = row * len(bars)
    height = top + plot_h + 44
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" {FONT}>']
    if title:
        parts.append(f"<title>{html.escape(title)}</title>")
    for tick in ticks:
        x = pos(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h + 4}" stroke="{GRID_COLOUR}"/>')
        parts.append(_text(x, top + plot_h + 17, fmt(tick), "middle"))
    for index, (label, value, colour) in enumerate(bars):
        y = top + index * row + 3
        end = pos(value)
        parts.append(_text(label_w - 8, y + 13, label, "end"))
        parts.append(f'<rect x="{label_w}" y="{y}" width="{max(end - label_w, 2):.1f}" height="17" fill="{colour}">'
                     f"<title>{html.escape(label)}: {fmt(value)} {html.escape(unit)}</title></rect>")
        parts.append(_text(max(end, label_w + 2) + 5, y + 13, f"{fmt(value)} {unit.split()[0]}"))
    parts.append(f'<path d="M{label_w},{top} V{top + plot_h} H{label_w + plot_w}" fill="none" stroke="{AXIS_COLOUR}"/>')
    parts.append(_text(label_w + plot_w / 2, height - 6, unit + (" (log scale)" if log else ""), "middle"))
    parts.append("</svg>")
    return "".join(parts)


def colour_bar(stops: list[tuple[int, int, int]], low_label: str, high_label: str, width: int = 220) -> str:
    """A horizontal colour scale with its two end labels (the legend of an error map)."""
    gradient = "".join(f'<stop offset="{index / max(len(stops) - 1, 1):.3f}" stop-color="rgb{stop}"/>'
                       for index, stop in enumerate(stops))
    identifier = "scale" + "".join(f"{channel:02x}" for stop in stops for channel in stop)[:24]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="34" {FONT}>'
            f'<defs><linearGradient id="{identifier}">{gradient}</linearGradient></defs>'
            f'<rect x="0" y="2" width="{width}" height="12" fill="url(#{identifier})" stroke="{AXIS_COLOUR}"/>'
            + _text(0, 28, low_label) + _text(width, 28, high_label, "end") + "</svg>")
