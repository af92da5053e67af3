"""The cohort page (index.html) and the similarity page in a real headless Chromium: no console errors, no
request anywhere, ids that look like HTML stay text, the tables sort, every link resolves. Screenshots are
kept in reports/test-artifacts/batch/ (or $HARNESS_TEST_ARTIFACTS). Skips cleanly where no Chromium exists."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from chromium import BrowserError, Chromium, find_chromium  # noqa: E402

from harness.batch.index import write_index  # noqa: E402
from harness.batch.layout import BatchPaths, folder_name, write_atomically  # noqa: E402
from harness.batch.store import Record  # noqa: E402
from harness.spec import load_spec  # noqa: E402

ARTIFACTS = Path(os.environ.get("HARNESS_TEST_ARTIFACTS", ROOT / "reports" / "test-artifacts")) / "batch"
HOSTILE_ID = '<script>alert("x")</script> & "李四"'

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="no Chromium here (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    try:
        instance = Chromium.launch(tmp_path_factory.mktemp("chromium-profile"))
    except BrowserError as error:
        pytest.skip(f"Chromium did not start: {error}")
    yield instance
    instance.close()


def _result(spec, index: int) -> tuple[dict, str, str]:
    """A plausible exp 3-3 result: most pass, some fail with a diagnosis, speedup ratios spread widely."""
    checks = []
    for number, check in enumerate(spec.checks):
        failing = (index + number) % 5 == 0
        status = "fail" if failing else "pass"
        metrics = {"cases": 2, "cases_passed": 1 if failing else 2}
        if "speedup" in check.id:
            metrics.update({"ratio": [0.9, 1.8, 3.0, 6.5, 12.0, 40.0, 150.0][(index + number) % 7], "min_ratio": 2.0})
        checks.append({"id": check.id, "title": check.title, "status": status,
                       "points": 0.0 if failing else check.points, "max_points": check.points,
                       "message": "case lab: out: 3 of 9 values differ" if failing else "",
                       "diagnosis": "the kernel is flipped (correlation vs convolution)" if failing and number % 2 else "",
                       "metrics": metrics, "cases": [], "harness_fault": False, "duration": 0.5})
    score = sum(check["points"] for check in checks)
    status, reason = ("harness_error", "the grading worker died (killed by SIGKILL)") if index == 3 else ("graded", "")
    return {"lab": spec.lab, "submission": "", "score": score, "checks": checks}, status, reason


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    spec = load_spec("aics-exp3-3")
    out = tmp_path_factory.mktemp("index")
    paths = BatchPaths(out)
    ids = ["张三", "alice smith", "alice_smith", HOSTILE_ID] + [f"student{index:02d}" for index in range(8)]
    records = []
    for index, entry_id in enumerate(ids):
        result, status, reason = _result(spec, index)
        folder = folder_name(entry_id)
        record = Record(entry_id, spec.lab, folder, "c", spec.source_sha256, status, reason, result["score"],
                        spec.max_score, 100 if index % 3 else 0, json.dumps(result), "<!DOCTYPE html><title>r</title>",
                        time.time(), 1, 30.0 + index)
        write_atomically(paths.result_json(folder), record.result_json)
        write_atomically(paths.report_html(folder), record.report_html)
        records.append(record)
    write_index(sorted(records, key=lambda record: record.id), [("README.txt", "not_graded", "a stray file")], spec, paths)
    return paths


def test_the_cohort_page_loads_offline_without_errors_and_sorts(browser, pages):
    page = browser.open_page(1300, 1000)
    report = page.load(pages.index.as_uri())
    assert report.console_errors == [] and report.log_errors == [] and report.failed_requests == [], report
    assert all(url.startswith(("file:", "data:")) for url in report.requests)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(ARTIFACTS / "index.png")
    text = page.evaluate("document.body.innerText")
    assert HOSTILE_ID in text                                          # shown as text, never run
    assert page.evaluate("document.querySelectorAll('script').length") == 1
    assert page.evaluate("document.querySelectorAll('svg').length") >= 3      # histogram, pass rates, speedups
    assert "the kernel is flipped" in text and "a stray file" in text
    scores = "[...document.querySelectorAll('#submission-table tbody tr')].map(r => parseFloat(r.cells[1].dataset.sort))"
    page.evaluate("document.querySelectorAll('#submission-table th')[1].click()")
    ascending = page.evaluate(scores)
    assert ascending == sorted(ascending)
    page.evaluate("document.querySelectorAll('#submission-table th')[1].click()")
    assert page.evaluate(scores) == sorted(ascending, reverse=True)
    page.evaluate("document.querySelectorAll('#submission-table th')[0].click()")
    ids = page.evaluate("[...document.querySelectorAll('#submission-table tbody tr')].map(r => r.cells[0].dataset.sort)")
    assert HOSTILE_ID in ids and len(ids) == 12
    links = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
    files = [link for link in links if link.startswith("file:")]
    assert len(files) == 24
    from urllib.parse import unquote, urlparse
    assert all(Path(unquote(urlparse(link).path)).is_file() for link in files)
    page.screenshot(ARTIFACTS / "index-sorted.png")


def test_the_similarity_page_loads_without_errors(browser, tmp_path):
    pytest.importorskip("copydetect", reason="copydetect is the similarity extra")
    from batch_helpers import CORRECT, LAB, copy_submission
    from harness import api
    root = tmp_path / "class"
    copy_submission(CORRECT, root / "alice")
    copy_submission(CORRECT, root / HOSTILE_ID.replace("/", "_"))
    report = api.similarity(root, tmp_path / "out", lab=LAB)
    page = browser.open_page()
    loaded = page.load(report.path.as_uri())
    assert loaded.console_errors == [] and loaded.log_errors == [] and loaded.failed_requests == [], loaded
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert page.evaluate("document.querySelectorAll('mark').length") > 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(ARTIFACTS / "similarity.png")
