"""What a batch's files say about each submission (harness/batch/run.py's report writing, gradebook.py,
index.py), without grading anything: a row whose report page was lost or drawn only in part says so and a
resumed run grades it again; grades.csv tells a passed 0-point check from a failed or skipped one; the
cohort page shows several findings apart and cuts long text at a word, keeping the full text.
"""
from __future__ import annotations

import csv
import html
import re
import time

import pytest

from batch_helpers import CORRECT, LAB, copy_submission
from harness.batch import run as batch_run
from harness.batch.content import content_hash
from harness.batch.gradebook import write_gradebook
from harness.batch.index import render_index
from harness.batch.layout import BatchPaths, folder_name
from harness.batch.store import Record, Store
from harness.batch.task import Task
from harness.report.html import MINIMAL, render_html, report_problem
from harness.results import CaseOutcome, CheckResult, SubmissionResult
from harness.spec import load_spec
from harness.submission import discover_entries

SPEC = load_spec(LAB)
LONG = ("backward must set self.d_weight and self.d_bias, in every version of it (raw and speedup): they are the "
        "gradients the update step reads, and the check compares both with the reference's, so a missing one fails")


def _result(statuses: dict, diagnoses: dict | None = None, messages: dict | None = None) -> SubmissionResult:
    """exp 2-1's checks: ``statuses`` id -> status (others pass); points earned only when passed."""
    checks = []
    for spec_check in SPEC.checks:
        status = statuses.get(spec_check.id, "pass")
        checks.append(CheckResult(spec_check.id, spec_check.title, status,
                                  spec_check.points if status == "pass" else 0.0, spec_check.points,
                                  (messages or {}).get(spec_check.id, "" if status == "pass" else "values differ"),
                                  diagnosis=(diagnoses or {}).get(spec_check.id, ""),
                                  cases=[CaseOutcome("lab", status, public=True)]))
    score = sum(check.points for check in checks)
    return SubmissionResult(LAB, "student", checks, score, SPEC.max_score, None)


def _record(entry_id: str, result: SubmissionResult, page: str | None = "", reason: str = "", **fields) -> Record:
    result.submission = entry_id
    values = dict(id=entry_id, lab=LAB, folder=folder_name(entry_id), content_hash="-", spec_sha256=SPEC.source_sha256,
                  status="graded", reason=reason, score=result.score, max_score=result.max_score, level=result.level,
                  result_json=result.json_text(), report_html=render_html(result, SPEC.tiers) if page == "" else page,
                  graded_at=time.time(), run=1)
    values.update(fields)
    return Record(**values)


# --- grades.csv -------------------------------------------------------------------------------------------


def test_a_zero_point_check_says_pass_fail_error_or_skip_and_scored_checks_keep_their_points(tmp_path):
    paths = BatchPaths(tmp_path)
    records = [_record("passes", _result({})),
               _record("fails", _result({"fc.backward.gradcheck": "fail", "fc.backward": "fail"})),
               _record("skips", _result({"fc.backward.gradcheck": "skip", "relu.backward.gradcheck": "error",
                                         "fc.update": "skip"}))]
    write_gradebook(records, [("README.txt", "not_graded", "a stray file")], SPEC, paths)
    with open(paths.grades_csv, encoding="utf-8-sig", newline="") as stream:
        header = next(csv.reader(stream))
        stream.seek(0)
        rows = {row["id"]: row for row in csv.DictReader(stream)}
    assert header == ["id", "status", "score", "max_score", "level"] + [check.id for check in SPEC.checks] + \
        ["reason", "report"]                                                   # the schema is as before
    assert [rows[name]["fc.backward.gradcheck"] for name in ("passes", "fails", "skips")] == ["pass", "fail", "skip"]
    assert rows["skips"]["relu.backward.gradcheck"] == "error" and rows["passes"]["relu.backward.gradcheck"] == "pass"
    assert (rows["passes"]["fc.backward"], rows["fails"]["fc.backward"], rows["skips"]["fc.update"]) == ("20", "0", "0")
    for name, row in rows.items():                                            # scored columns still sum to the score
        if name != "README.txt":
            scored = [float(row[check.id]) for check in SPEC.checks if check.points]
            assert sum(scored) == float(row["score"]), name
    assert rows["README.txt"]["fc.backward.gradcheck"] == "" and rows["README.txt"]["score"] == ""


# --- a page lost or drawn in part -------------------------------------------------------------------------


def _task(entry_id: str) -> Task:
    return Task(entry_id, "/nowhere", LAB, folder_name(entry_id), "-")


def _worker_dict(result: SubmissionResult, page) -> dict:
    return {"status": "graded", "reason": "", "score": result.score, "max_score": result.max_score,
            "level": result.level, "result_json": result.json_text(), "report_html": page}


def test_a_submission_whose_worker_wrote_no_page_gets_a_plain_one_and_its_row_says_so(tmp_path):
    result = _result({"fc.backward": "fail"}, diagnoses={"fc.backward": "your d_bias\naverages top_diff"})
    record = batch_run._record(_task("no-page"), _worker_dict(result, None), SPEC, 1)
    assert record.report_html is not None and report_problem(record.report_html).startswith(MINIMAL)
    assert "fc.backward" in record.report_html and "<li>your d_bias</li><li>averages top_diff</li>" in record.report_html
    assert record.reason.startswith("report.html: the full page could not be drawn") and record.status == "graded"
    paths = BatchPaths(tmp_path)
    batch_run.write_submission_files(record, paths)
    assert paths.report_html(record.folder).is_file()
    write_gradebook([record], [], SPEC, paths)
    assert "could not be drawn" in paths.grades_csv.read_text(encoding="utf-8-sig")
    assert "could not be drawn" in render_index([record], [], SPEC, paths)


def test_a_page_with_a_picture_missing_says_so_in_its_row(monkeypatch):
    from harness.report import html as report
    artifacts = {"output": {"expected": __import__("numpy").zeros((2, 3)), "actual": __import__("numpy").ones((2, 3)),
                            "display": "heatmap", "label": "output"}}
    result = _result({"fc.forward": "fail"})
    result.checks[0].cases = [CaseOutcome("lab", "fail", public=True, metrics={"output": {"rtol": 0, "atol": 0}},
                                          artifacts=artifacts)]
    monkeypatch.setattr(report, "png_data_uri", lambda rgb: 1 / 0)
    page = render_html(result, SPEC.tiers)
    record = batch_run._record(_task("part"), {**_worker_dict(result, page), "reason": "out of time in fc.update",
                                               "status": "timeout"}, SPEC, 1)
    assert record.reason == ("out of time in fc.update; report.html: 1 picture could not be drawn "
                             "(a fault of the report, not of the submission)")
    complete = batch_run._record(_task("whole"), _worker_dict(_result({}), render_html(_result({}), SPEC.tiers)),
                                 SPEC, 1)
    assert complete.reason == ""


def test_resume_grades_again_a_submission_whose_page_is_missing_or_plain(tmp_path):
    root = tmp_path / "class"
    for name in ("full", "missing", "plain"):
        copy_submission(CORRECT, root / name)
    entries = discover_entries(root)
    plain = batch_run._page_from_json(_result({}).json_text(), SPEC)
    pages = {"full": "", "missing": None, "plain": plain}
    with Store(tmp_path / "grades.sqlite") as store:
        for entry in entries:
            store.record(_record(entry.id, _result({}), pages[entry.id], content_hash=content_hash(entry.path)))
        tasks, kept = batch_run._plan(entries, SPEC, store, "resume")
    assert kept == ["full"] and sorted(task.id for task in tasks) == ["missing", "plain"]


# --- index.html -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index_page(tmp_path_factory):
    paths = BatchPaths(tmp_path_factory.mktemp("index"))
    two = "this probably follows from fc.forward, which failed; fix that first\nvalues differ everywhere"
    records = [_record(f"s{index}", _result({"fc.backward": "fail", "relu.backward": "fail"},
                                            diagnoses={"fc.backward": two}, messages={"relu.backward": LONG}))
               for index in range(2)]
    return render_index(records, [], SPEC, paths)


def _check_row(page: str, check_id: str) -> str:
    return re.search(rf"<tr[^>]*>\s*<td[^>]*><code>{re.escape(check_id)}</code>.*?</tr>", page, re.S).group(0)


def test_the_cohort_page_shows_the_findings_of_a_diagnosis_apart(index_page):
    row = _check_row(index_page, "fc.backward")
    assert re.findall(r"<li>(.*?)</li>", row) == [
        "this probably follows from fc.forward, which failed; fix that first", "values differ everywhere"]
    text = re.sub(r'"[^"]*"', '""', row)           # the title attribute keeps a line per finding
    assert not re.search(r"fix that first\s+values", text)
    assert "fix that first\nvalues differ everywhere" in html.unescape(re.search(r'title="([^"]*)"', row).group(1))


def test_the_cohort_page_cuts_a_long_message_at_a_word_and_keeps_it_whole_in_its_title(index_page):
    row = _check_row(index_page, "relu.backward")
    shown = re.search(r'<div title="([^"]*)">([^<]*)</div>', row)
    title, text = html.unescape(shown.group(1)), html.unescape(shown.group(2))
    assert title == LONG
    assert text.endswith("…") and LONG.startswith(text[:-1]) and LONG[len(text) - 1] in " ,;:"
    assert "d_bia…" not in text and "#" not in text          # a real message, figures and all
