"""The HTML report shows a kind's pictures of public cases whether the check passed or not, and never
those of hidden cases."""
import numpy as np

from harness.report.html import render_html
from harness.results import CaseOutcome, CheckResult, SubmissionResult


def _result(public: bool) -> SubmissionResult:
    image = np.zeros((3, 4, 5))
    losses = np.array([[3.0, 1.0, 2.0], [2.0, 0.5, 1.5]])
    case = CaseOutcome("small", "pass", public=public,
                       gallery=[{"title": "content and style images", "images": [image, image]},
                                {"title": "total loss per step", "curves": (losses, losses * 1.01)}])
    check = CheckResult("style_transfer.run", "style transfer", "pass", 10, 10, cases=[case])
    return SubmissionResult("aics-exp3-3", "student", [check], 10, 10, None)


def test_public_gallery_is_drawn_for_a_passing_check():
    page = render_html(_result(public=True))
    assert page.count("data:image/png") == 2
    assert "content and style images (case small)" in page
    assert page.count("<polyline") == 2          # reference and yours


def test_hidden_gallery_is_not_drawn():
    page = render_html(_result(public=False))
    assert "data:image/png" not in page and "<polyline" not in page
    assert "content and style images" not in page


def test_uncalibrated_speedup_shows_no_reference_figures():
    """In a student kit the reference's ratio is not measured (NaN): no 'nan' in reports, no NaN bars."""
    from harness.report.console import speedup_figure
    from harness.report.html import timing_chart
    nan = float("nan")
    metrics = {"ratio": 120.0, "reference_ratio": nan, "raw_seconds": 0.07, "speedup_seconds": 0.0006,
               "reference_raw_seconds": nan, "reference_speedup_seconds": nan}
    assert speedup_figure(metrics) == "speedup 120.0x over your raw path (not calibrated: no reference solution here)"
    assert speedup_figure({**metrics, "reference_ratio": 180.0}) == \
        "speedup 120.0x over the course's plain loop; the reference solution's speedup path: 180.0x"
    chart = timing_chart(metrics)
    assert chart.count("<rect") == 2 and "nan" not in chart.lower()
