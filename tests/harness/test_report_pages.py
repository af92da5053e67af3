"""The HTML report's parts that a person reads (harness/report/html.py, svg.py), without a browser
(tests/browser/ looks at the same pages in Chromium): maps agree with the figures they illustrate and
leave out what has no difference, one error is shown once, anchors resolve, the instructor's section
is a closed toggle (absent for students), charts have axes and legends, pictures are enlarged
nearest-neighbour and the PNGs decode.
"""
from __future__ import annotations

import base64
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness import api
from harness.report import html as report
from harness.report.svg import bar_chart, line_chart, nice_ticks
from harness.results import CaseOutcome, CheckResult, SubmissionResult

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "submissions" / "aics-exp2-1" / "correct"


@pytest.fixture(scope="module")
def relu_wrong():
    """aics-exp2-1 with ReLU backward passing top_diff through: fails a public and a hidden case."""
    return api.check(ROOT / "submissions" / "aics-exp2-1" / "relu-backward-wrong", "aics-exp2-1",
                     only=["relu.backward"])


@pytest.fixture(scope="module")
def import_error(tmp_path_factory):
    submission = tmp_path_factory.mktemp("import-error") / "submission"
    shutil.copytree(CORRECT, submission)
    source = submission / "stu_upload" / "layers_1.py"
    source.write_text("raise RuntimeError('layers_1 is broken at import')\n" + source.read_text())
    return api.check(submission, "aics-exp2-1")


def _anchors_resolve(page: str) -> None:
    ids = set(re.findall(r'\sid="([^"]+)"', page))
    targets = re.findall(r'href="#([^"]+)"', page)
    assert targets and [target for target in targets if target not in ids] == []


def _decode(uri: str) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def test_maps_show_exactly_the_mismatched_values(relu_wrong):
    check = relu_wrong.check("relu.backward")
    assert check.status == "fail"
    seen = 0
    for case in check.cases:
        for artifact in case.artifacts.values():
            metrics = case.metrics[artifact["label"]]
            mask = report.outside_tolerance(artifact["expected"], artifact["actual"], metrics)
            assert int(mask.sum()) == metrics["mismatched"] > 0, case.name
            seen += 1
    assert seen == 2 and {case.public for case in check.cases} == {True, False}


def test_hidden_mask_cells_count_the_mismatches():
    expected = np.zeros((1, 2, 4, 5))
    actual = expected.copy()
    actual[0, 1, 1, 2] = actual[0, 1, 3, 0] = 1.0          # two wrong values in channel 1, none in channel 0
    case = CaseOutcome("hidden", "fail", metrics={"output": {"rtol": 1e-7, "atol": 1e-9, "mismatched": 2}})
    pictures = report._pictures(case, {"expected": expected, "actual": actual, "display": "heatmap",
                                       "label": "output"}, shown=False)
    (picture,) = pictures
    assert [image["caption"] for image in picture["images"]] == ["channel 1"]      # channel 0 is not drawn
    assert "Not drawn (no difference): channel 0" in picture["note"] and "2 of 40 values" in picture["note"]
    pixels = _decode(picture["images"][0]["src"])
    factor = pixels.shape[0] // 4
    cells = pixels[::factor, ::factor]
    assert cells.shape[:2] == (4, 5)
    assert int(np.all(cells == report.DIFFER, axis=-1).sum()) == 2
    assert {tuple(c) for c in cells.reshape(-1, 3).tolist()} == {report.DIFFER, report.MATCH}


def test_no_picture_without_a_difference():
    expected = np.ones((2, 3))
    case = CaseOutcome("lab", "fail", public=True, metrics={"output": {"rtol": 1e-7, "atol": 1e-9}})
    assert report._pictures(case, {"expected": expected, "actual": expected.copy(), "display": "heatmap",
                                   "label": "output"}, shown=True) == []


def test_one_import_error_is_shown_once(import_error):
    page = report.render_html(import_error)
    errored = [check.id for check in import_error.checks if check.status == "error"]
    assert len(errored) >= 4
    assert page.count("RuntimeError: layers_1 is broken at import") == 1
    problem = re.search(r'<div class="panel error" id="problem-1">(.*?)</div>', page, re.S).group(1)
    assert all(f">{check_id}</a>" in problem for check_id in errored)
    _anchors_resolve(page)


def test_instructor_section_is_a_closed_toggle_and_absent_for_students(relu_wrong):
    page = report.render_html(relu_wrong)
    assert '<details class="instructor">' in page and "<details class=\"instructor\" open" not in page
    assert "Sandbox record" in page
    student = report.render_html(relu_wrong, audience="student")
    assert "<details" not in student and "Sandbox record" not in student
    _anchors_resolve(page)
    _anchors_resolve(student)


def test_harness_fault_traceback_only_in_the_instructor_section():
    check = CheckResult("relu.forward", "ReLU", "error", 0, 10, "the harness failed while checking this (KeyError: 'x')")
    check.harness_fault, check.traceback = True, "Traceback (most recent call last):\nKeyError: 'secret-frame'\n"
    result = SubmissionResult("aics-exp2-1", "student", [check], 0, 10, 0)
    page = report.render_html(result)
    instructor = page[page.index('<details class="instructor">'):]
    assert "secret-frame" in instructor and "secret-frame" not in page[:page.index('<details class="instructor">')]
    assert "HARNESS FAULT" in page and "secret-frame" not in report.render_html(result, audience="student")


def test_status_styles_are_distinct():
    css = (Path(report.TEMPLATES) / "styles.css.j2").read_text()
    colours = {status: re.search(rf"\.panel\.{status} {{ border-color: ([^;]+);", css).group(1)
               for status in ("pass", "fail", "error", "timeout", "skip")}
    assert len(set(colours.values())) == 5, colours


def test_png_round_trip():
    rgb = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    assert np.array_equal(_decode(report.png_data_uri(rgb)), rgb)


def test_small_images_are_enlarged_nearest_neighbour():
    image = np.random.default_rng(1).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    big = report.enlarge(image, report.IMAGE_SIDE)
    assert min(big.shape[:2]) >= 128 and big.shape[0] * 48 == big.shape[1] * 32
    factor = big.shape[0] // 32
    assert np.array_equal(big[::factor, ::factor], image)
    assert {tuple(p) for p in big.reshape(-1, 3).tolist()} == {tuple(p) for p in image.reshape(-1, 3).tolist()}


def test_loss_chart_has_axes_units_and_a_legend():
    losses = np.stack([np.geomspace(5e4, 3e2, 20)] * 3, axis=1)
    chart = report.loss_chart(losses, losses * 1.2)
    for words in (">step<", "total loss (no unit) (log scale)", ">reference<", ">yours<", ">1e+04<"):
        assert words in chart, words
    assert chart.count("<polyline") == 2
    linear = line_chart([("a", [1, 2, 3], [1.0, 2.0, 3.0], "#000")], x_label="step", y_label="loss")
    assert "log scale" not in linear and ">2.5<" in linear or ">2<" in linear


def test_timing_chart_has_a_unit_axis():
    chart = bar_chart([("your raw", 410.0, "#c00"), ("your speedup", 10.0, "#c00")], "ms per call", log=True)
    assert "ms per call (log scale)" in chart and chart.count("<rect") == 2 and ">410 ms<" in chart


@pytest.mark.parametrize("low, high", [(0, 1), (3e2, 5e4), (-2.5, 7.1), (1e-12, 3e-12)])
def test_ticks_cover_the_range(low, high):
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high and 2 <= len(ticks) <= 12
