"""A report is never lost (harness/report/html.py): whatever an output's shape or type, the page is drawn; a
picture that cannot be drawn costs that picture only (a note in its place, the traceback in the instructor's
section); a page that cannot be rendered at all is a plain page with every check. The trial that found it:
exp 3-3's adam-no-bias-correction, whose 5-D Adam ``params`` crashed the difference map and left no page.
"""
from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest

from harness.report import html as report
from harness.results import CaseOutcome, CheckResult, SubmissionResult

RNG = np.random.default_rng(7)


def _result(expected, actual, *, public=True, display="heatmap", gallery=(), status="fail") -> SubmissionResult:
    case = CaseOutcome("lab", status, public=public,
                       metrics={"params": {"rtol": 1e-7, "atol": 1e-9, "mismatched": 1}},
                       artifacts={"params": {"expected": expected, "actual": actual, "display": display,
                                             "label": "params"}},
                       gallery=list(gallery))
    check = CheckResult("adam.update", "Adam", status, 0, 4, "case lab: params: values differ", cases=[case],
                        diagnosis="your Adam skips the bias correction")
    passing = CheckResult("conv.forward_raw", "conv", "pass", 10, 10, "")
    return SubmissionResult("aics-exp3-3", "student", [passing, check], 10, 14, None)


def _differ(shape, dtype=np.float64):
    expected = RNG.normal(size=shape).astype(dtype) if np.dtype(dtype).kind == "f" else np.zeros(shape, dtype)
    actual = expected.copy()
    if actual.size:
        flat = actual.reshape(-1)
        flat[:: max(1, flat.size // 7)] = 3            # some values wrong, spread over the output
    return expected, actual


def _junk() -> dict:
    """name -> (expected, actual): every kind of output a check may have compared."""
    cases = {f"ndim {ndim}": _differ((3, 4, 2, 5, 4)[:ndim]) for ndim in range(6)}
    cases.update({
        "adam params (4, 1, 3, 4, 5)": _differ((4, 1, 3, 4, 5)),      # the trial's crash
        "ndim 7": _differ((2,) * 7),
        "empty": (np.zeros((0, 3)), np.zeros((0, 3))),
        "empty 4-D": (np.zeros((2, 0, 3, 3)), np.zeros((2, 0, 3, 3))),
        "complex": (np.zeros((2, 3), complex), np.full((2, 3), 1j)),
        "complex against real": (np.zeros((2, 2, 3)), np.full((2, 2, 3), 1 + 1j)),
        "bool": (np.zeros((4, 4), bool), np.eye(4, dtype=bool)),
        "int": (np.arange(12).reshape(3, 4), np.arange(12)[::-1].reshape(3, 4).copy()),
        "structured": (np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]), np.ones(3, dtype=[("a", "f8"), ("b", "i4")])),
        "text": (np.array(["relu", "pool"]), np.array(["relu", "conv"])),
        "nan and inf": (np.array([[np.nan, np.inf], [1.0, -np.inf]]), np.array([[1.0, np.inf], [np.nan, 2.0]])),
        "all nan": (np.full((3, 3), np.nan), np.full((3, 3), np.nan)),
        "shapes differ": (np.zeros((2, 3)), np.zeros((3, 2))),
        "long 1-D": _differ((300_000,)),
        "wide 2-D": _differ((2, 100_000)),
        "large image": _differ((1, 2, 900, 700)),
        "many channels": _differ((1, 3000, 2, 2)),
        "not an array": ([[1.0, 2.0]], [[1.0, 5.0]]),
    })
    return cases


JUNK = _junk()


@pytest.mark.parametrize("display", ["heatmap", "image", "curve"])
@pytest.mark.parametrize("public", [True, False], ids=["public", "hidden"])
@pytest.mark.parametrize("name", list(JUNK))
def test_every_output_gets_a_full_page(name, public, display):
    expected, actual = JUNK[name]
    page = report.render_html(_result(expected, actual, public=public, display=display))
    assert report.report_problem(page) == "", name               # drawn in full: no picture lost
    assert len(page) < 1_000_000, len(page)                      # a page to open, whatever the output's size
    assert "<h2>Checks</h2>" in page and "adam.update" in page and "conv.forward_raw" in page
    assert "your Adam skips the bias correction" in page
    for uri in re.findall(r'src="(data:image/png;base64,[^"]+)"', page):
        pixels = _decode(uri)
        assert pixels.ndim == 3 and 0 < pixels.shape[0] <= 4 * 1024 and 0 < pixels.shape[1] <= 4 * 1024


def test_the_trial_output_is_drawn_one_picture_per_leading_index():
    expected, actual = JUNK["adam params (4, 1, 3, 4, 5)"]
    picture, = report._pictures(_result(expected, actual).checks[1].cases[0],
                                {"expected": expected, "actual": actual, "display": "heatmap", "label": "params"},
                                shown=True)
    assert "5 axes (4, 1, 3, 4, 5)" in picture["note"]
    assert picture["images"] and all(re.fullmatch(r"\[\d, 0, \d\]", image["caption"]) for image in picture["images"])
    for image in picture["images"]:
        assert _decode(image["src"]).shape[0] * 5 == _decode(image["src"]).shape[1] * 4      # a 4 x 5 plane


def test_large_planes_are_drawn_in_blocks_that_keep_every_difference():
    expected = np.zeros((1000, 10))
    actual = expected.copy()
    actual[777, 3] = 1.0                      # one wrong value among 10,000
    mask, _, block = report._fit(*(lambda m: (m, np.where(m, 1.0, 0.0)))(report.outside_tolerance(
        expected, actual, {"rtol": 1e-7, "atol": 1e-9})))
    assert block == (4, 1) and mask.shape == (250, 10) and int(mask.sum()) == 1 and mask[777 // 4, 3]


def test_gallery_junk_costs_its_picture_only():
    bad = {"title": "content and style images", "images": [np.zeros((2, 5, 5))]}       # not 3 channels
    good = {"title": "total loss per step", "curves": (np.ones((3, 3)), np.ones((3, 3)) * 2)}
    page = report.render_html(_result(np.zeros(2), np.ones(2), gallery=[bad, good]))
    assert "This picture could not be drawn" in page and "<polyline" in page
    assert report.report_problem(page) == "1 picture could not be drawn"


def test_a_failing_picture_is_a_note_and_a_traceback_for_the_instructor(monkeypatch):
    def broken(rgb):
        raise ValueError("cannot reshape array of size 414720 into shape (96,72)")
    monkeypatch.setattr(report, "png_data_uri", broken)
    result = _result(*JUNK["ndim 4"])
    page = report.render_html(result)
    instructor = page.index('<details class="instructor">')
    assert "This picture could not be drawn" in page[:instructor]
    assert "cannot reshape array" in page[instructor:] and "Traceback" in page[instructor:]
    assert "Traceback" not in page[:instructor]
    assert "<h2>Details</h2>" in page and "your Adam skips the bias correction" in page   # the rest is all there
    assert report.report_problem(page) == "1 picture could not be drawn"
    student = report.render_html(result, audience="student")
    assert "This picture could not be drawn" in student and "Traceback" not in student


def test_a_page_that_cannot_be_rendered_is_a_plain_page_with_every_check(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the template <broke>")
    monkeypatch.setattr(report, "page_view", broken)
    result = _result(*JUNK["ndim 2"])
    result.checks[1].diagnosis = "first finding\nsecond <finding>"
    page = report.render_html(result)
    assert page.startswith("<!DOCTYPE html>") and "could not be drawn" in page
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>", page)
    assert rows == [("conv.forward_raw", "PASS", "10 / 10"), ("adam.update", "FAIL", "0 / 4")]
    assert "second &lt;finding&gt;" in page and "the template &lt;broke&gt;" in page and "<broke>" not in page
    assert "<li>first finding</li><li>second &lt;finding&gt;</li>" in page       # findings apart, not run together
    assert report.report_problem(page).startswith(report.MINIMAL) and "RuntimeError" in report.report_problem(page)
    assert "Traceback" in page and "Traceback" not in report.render_html(result, audience="student")


def test_the_plain_page_copes_with_a_result_it_cannot_read():
    page = report.minimal_html(None, KeyError("checks"))
    assert "could not be drawn" in page and report.report_problem(page).startswith(report.MINIMAL)
    odd = SubmissionResult("lab", "s", [CheckResult("x", "x", "bogus", None, None)], None, None, None)
    assert "bogus" in report.render_html(odd)


def test_write_html_writes_a_page_whatever_happens(monkeypatch, tmp_path):
    monkeypatch.setattr(report, "page_view", lambda *args: 1 / 0)
    target = tmp_path / "deep" / "report.html"
    report.write_html(_result(*JUNK["ndim 1"]), target)
    assert "ZeroDivisionError" in target.read_text()


def _decode(uri: str) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))
