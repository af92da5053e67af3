"""The HTML report as a person sees it, in a real headless Chromium (Debian's `chromium`; .ci/setup
installs it): no console errors, no failed or external requests, no broken or blank images, every
anchor resolves, chart labels do not overlap, every status has its own colour, pictures are at a
readable size, and the instructor's toggle holds the sandbox internals (closed by default; absent
from a student's page). Screenshots are kept in reports/test-artifacts/browser/ (or
$HARNESS_TEST_ARTIFACTS) for CI to keep. Skips cleanly where no Chromium exists.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from chromium import BrowserError, Chromium, find_chromium
from harness import cli
from harness.report.html import write_html
from harness.results import CaseOutcome, CheckResult, SubmissionResult

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("HARNESS_TEST_ARTIFACTS", ROOT / "reports" / "test-artifacts")) / "browser"
CORRECT = ROOT / "submissions" / "aics-exp2-1" / "correct"

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="no Chromium here (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    try:
        instance = Chromium.launch(tmp_path_factory.mktemp("chromium-profile"))
    except BrowserError as error:
        pytest.skip(f"Chromium did not start: {error}")
    yield instance
    instance.close()


# --- the pages ------------------------------------------------------------------------------------------


def _broken_copy(base: Path, name: str, edit) -> Path:
    submission = base / name
    shutil.copytree(CORRECT, submission)
    source = submission / "stu_upload" / "layers_1.py"
    source.write_text(edit(source.read_text()))
    return submission


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("pages")
    wrong_relu = _broken_copy(base, "relu-wrong", lambda text: text.replace(
        "        bottom_diff = top_diff * (self.input > 0)\n", "        bottom_diff = top_diff * 1.0\n"))
    import_error = _broken_copy(base, "import-error",
                                lambda text: "raise RuntimeError('layers_1 is broken at import')\n" + text)
    out = {}
    for name, submission in (("hidden-maps", wrong_relu), ("import-error", import_error)):
        out[name] = base / f"{name}.html"
        cli.main(["check", str(submission), "--lab", "aics-exp2-1", "--html", str(out[name])])
    out["rich"] = base / "rich.html"
    write_html(_rich_result(), out["rich"])
    out["student"] = base / "student.html"
    write_html(_rich_result(), out["student"], audience="student")
    return out


def _rich_result() -> SubmissionResult:
    """Every status, a harness fault, a root cause, a style-transfer gallery (48x32 images, a loss curve),
    a speedup chart, hidden and public difference maps, Python 2.7 semantics and an isolation record."""
    rng = np.random.default_rng(0)
    image = rng.normal(0, 60, (3, 32, 48))
    losses = np.stack([np.geomspace(5e4, 3e2, 20), np.geomspace(2e4, 1e2, 20), np.geomspace(3e4, 2e2, 20)], axis=1)
    style = CaseOutcome("small", "fail", public=True, message="image: 12 of 4608 values differ",
                        metrics={"image": {"max_abs_error": 2.5, "max_rel_error": 0.01, "mismatched": 12,
                                           "total": 4608}},
                        gallery=[{"title": "content, style and result", "images": [image, image * 0.5, image * 0.8]},
                                 {"title": "total loss per step", "curves": (losses, losses * 1.3)}])
    expected = rng.normal(size=(2, 3, 6, 6))
    wrong = expected.copy()
    wrong[:, 1, 2:4, 1:5] += 1.0
    figures = {"output": {"rtol": 1e-7, "atol": 1e-9, "mismatched": 16, "total": 216}}
    artifact = {"output": {"expected": expected, "actual": wrong, "display": "heatmap", "label": "output"}}
    hidden = CaseOutcome("hidden-1", "fail", public=False, metrics=figures, artifacts=artifact)
    public = CaseOutcome("lab", "fail", public=True, metrics=figures, artifacts=artifact)
    speed = CaseOutcome("timing", "pass", public=True, metrics={"speedup": {
        "ratio": 41.0, "reference_ratio": 55.0, "raw_seconds": 0.41, "fast_seconds": 0.01,
        "reference_raw_seconds": 0.33, "reference_speedup_seconds": 0.006}})
    checks = [
        CheckResult("conv.forward_speedup", "conv forward, vectorised", "fail", 0, 5,
                    "case lab: output: 16 of 216 values differ",
                    metrics={"cases": 2, "cases_passed": 0, "mismatched": 32}, cases=[public, hidden],
                    diagnosis="the kernel is flipped"),
        CheckResult("conv.speedup_forward", "speedup", "pass", 2.5, 2.5, metrics={"cases": 1, "cases_passed": 1},
                    cases=[speed]),
        CheckResult("style_transfer.run", "style transfer", "fail", 0, 10, "case small: image differs",
                    metrics={"cases": 1, "cases_passed": 0}, cases=[style]),
        CheckResult("adam.update", "Adam", "timeout", 0, 4, "case lab: the request did not finish within 10 s"),
        CheckResult("pool.forward_raw", "pool", "error", 0, 10,
                    "the harness failed while checking this (KeyError: 'x')"),
        CheckResult("pool.backward_raw", "pool backward", "skip", 0, 10,
                    "not run: depends on pool.forward_raw, which did not pass"),
    ]
    checks[2].root_cause = "conv.forward_speedup"          # fields of harness.root_cause and harness faults
    checks[4].harness_fault, checks[4].traceback = True, "Traceback (most recent call last):\n  ...\nKeyError: 'x'\n"
    result = SubmissionResult("aics-exp3-3", "student <b>42</b>", checks, 2.5, 41.5, 0, spec_sha256="ab" * 32,
                              harness_version="test", duration=12.3,
                              sandbox={"layers": ["bwrap", "seccomp"], "isolation": {"mode": "bwrap", "tool": "bwrap",
                                                                                   "version": "0.8.0"},
                                       "compat_used": ["scipy.misc.imread"]})
    result.semantics = {"python": "2.7", "division": "classic", "reason": "print statements in layers_1.py",
                        "evidence": ["layers_1.py:12: print statement"]}
    return result


# --- what every page must satisfy -------------------------------------------------------------------------

PAGE_FACTS = """(() => {
  const images = [...document.images];
  const anchors = [...document.querySelectorAll('a[href]')];
  const blank = images.filter(img => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d'); context.drawImage(img, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 4; i < data.length; i += 4)
      if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2]) return false;
    return data[0] > 240 && data[1] > 240 && data[2] > 240;       // one colour, and near-white: invisible
  }).map(img => img.alt);
  const overlaps = [];
  for (const svg of document.querySelectorAll('svg')) {
    const boxes = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, p] = boxes[i], [b, q] = boxes[j];
      if (p.left < q.right - 1 && q.left < p.right - 1 && p.top < q.bottom - 1 && q.top < p.bottom - 1)
        overlaps.push(a + ' / ' + b);
    }
    const frame = svg.getBoundingClientRect();
    for (const [text, box] of boxes)
      if (box.left < frame.left - 1 || box.right > frame.right + 1 ||
          box.top < frame.top - 1 || box.bottom > frame.bottom + 1)
        overlaps.push(text + ' / outside the chart');
  }
  return {
    broken: images.filter(img => !img.complete || img.naturalWidth === 0).map(img => img.alt),
    small: images.filter(img => Math.min(img.getBoundingClientRect().width, img.getBoundingClientRect().height) < 24)
                 .map(img => img.alt),
    blank: blank,
    external: anchors.map(a => a.getAttribute('href')).filter(href => !href.startsWith('#')),
    unresolved: anchors.filter(a => a.getAttribute('href').startsWith('#'))
                       .filter(a => !document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1))))
                       .map(a => a.getAttribute('href')),
    overlaps: overlaps,
    anchors: anchors.length, images: images.length, svgs: document.querySelectorAll('svg').length,
  };
})()"""


def _check_page(browser, path: Path, shot: str, open_details: bool = False) -> dict:
    page = browser.open_page()
    report = page.load(path.as_uri())
    assert report.console_errors == [] and report.log_errors == [] and report.failed_requests == [], report
    assert all(url.startswith(("data:", path.as_uri())) for url in report.requests), report.requests
    facts = page.evaluate(PAGE_FACTS)
    assert facts["broken"] == [] and facts["blank"] == [] and facts["small"] == [], facts
    assert facts["external"] == [] and facts["unresolved"] == [] and facts["overlaps"] == [], facts
    page.screenshot(ARTIFACTS / f"{shot}.png")
    if open_details:
        assert page.evaluate("document.querySelector('details.instructor').open") is False
        page.evaluate("document.querySelector('details.instructor').open = true")
        page.screenshot(ARTIFACTS / f"{shot}-instructor.png")
    facts["page"] = page
    return facts


def test_hidden_case_maps_page(browser, pages):
    facts = _check_page(browser, pages["hidden-maps"], "exp2-1-relu-wrong", open_details=True)
    assert facts["images"] >= 2 and facts["anchors"] >= 10


def test_one_import_error_is_shown_once(browser, pages):
    facts = _check_page(browser, pages["import-error"], "exp2-1-import-error")
    page = facts["page"]
    problem = page.evaluate("[...document.querySelectorAll('[id^=problem-]')].map(e => e.textContent)")
    assert len(problem) == 1 and "broken at import" in problem[0], problem
    repeated = page.evaluate("[...document.querySelectorAll('section pre')].filter(e => "
                             "e.textContent.includes('broken at import')).length")
    assert repeated == 0        # the check sections point to the problem instead of repeating it


def test_rich_page(browser, pages):
    facts = _check_page(browser, pages["rich"], "rich-report", open_details=True)
    page = facts["page"]
    assert facts["svgs"] >= 3                 # loss chart, timing chart, colour scale
    colours = page.evaluate("Object.fromEntries(['pass','fail','error','timeout','skip'].map(s => "
                            "[s, getComputedStyle(document.querySelector('section.panel.' + s)).borderLeftColor]))")
    assert len(set(colours.values())) == 5, colours
    widths = page.evaluate("[...document.images].filter(i => i.alt.includes('content, style and result'))"
                           ".map(i => [i.naturalWidth, i.getBoundingClientRect().width])")
    assert widths and all(natural >= 128 and shown >= 128 for natural, shown in widths), widths   # 48x32 enlarged
    first = page.evaluate("document.querySelector('section.panel').id")
    assert first == "check-conv.forward_speedup"              # the root cause comes first
    assert "Python 2.7 semantics" in page.evaluate("document.body.innerText")
    hidden_text = page.evaluate("document.querySelector('details.instructor').innerText")
    assert "bwrap" in hidden_text and "KeyError" in hidden_text


def test_student_page_has_no_instructor_section(browser, pages):
    facts = _check_page(browser, pages["student"], "rich-report-student")
    page = facts["page"]
    assert page.evaluate("document.querySelector('details.instructor')") is None
    text = page.evaluate("document.body.innerText")
    assert "seccomp" not in text and "Traceback" not in text
    assert "HARNESS FAULT" in text and "not your code" in text
