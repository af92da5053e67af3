"""`harness grade` on a class folder as instructors receive it, with two workers: every entry accounted for,
ids kept in full everywhere, no two submissions sharing a file, and every output (result.json, report.html,
grades.csv, gradescope/, junit.xml, index.html) saying the same thing as the store."""
from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ElementTree

import pytest

from batch_helpers import CORRECT, EXPECTED, LAB, NO_BIAS_GRAD, NOT_GRADED, build_class
from harness import api, cli
from harness.batch.layout import BatchPaths, folder_name
from harness.batch.store import Store


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("batch")
    root, out = build_class(base / "class"), base / "out"
    seen = []
    batch = api.grade(root, out, lab=LAB, jobs=2, on_result=lambda item: seen.append((item.name,
                                                                                     item.json_path.is_file())))
    return {"root": root, "out": out, "batch": batch, "seen": seen, "paths": BatchPaths(out)}


def test_every_entry_is_graded_or_listed_with_its_reason(graded):
    batch = graded["batch"]
    assert {item.name: (item.result.score, item.status) for item in batch} == EXPECTED
    assert [item.name for item in batch] == sorted(EXPECTED)             # id order, whatever finished first
    outcome = batch.outcomes[0]
    assert {entry_id: reason for entry_id, _, reason in outcome.not_graded} == {
        "README.txt": "not a folder or an archive (.zip, .tar, .tar.gz, .tgz, .tar.bz2, .tbz2, .tar.xz, .txz)", "empty": "an empty folder"}
    # on_result came once per submission, after its result.json was written
    assert sorted(name for name, _ in graded["seen"]) == sorted(EXPECTED) and all(ok for _, ok in graded["seen"])


def test_ids_are_kept_in_full_and_no_two_submissions_share_a_file(graded):
    out, batch = graded["out"], graded["batch"]
    folders = {item.name: item.json_path.parent.name for item in batch}
    assert len({name.casefold() for name in folders.values()}) == len(folders)     # also on a case-insensitive disk
    for entry_id, folder in folders.items():
        assert folder == folder_name(entry_id)
        result = json.loads((out / folder / "result.json").read_text(encoding="utf-8"))
        assert result["submission"] == entry_id
        assert entry_id in (out / folder / "report.html").read_text(encoding="utf-8")
        assert json.loads((out / "gradescope" / f"{folder}.json").read_text(encoding="utf-8"))["extra_data"]["id"] \
            == entry_id
    assert folders["alice smith"] != folders["alice_smith"] and folders["Bob"] != folders["bob"]
    assert folders["张三"].startswith("张三-")


def test_result_json_has_the_schema_of_check_json(graded, tmp_path, capsys):
    single = tmp_path / "single.json"
    cli.main(["check", str(CORRECT), "--lab", LAB, "--json", str(single), "--progress", "off"])
    capsys.readouterr()
    expected = json.loads(single.read_text())
    ours = json.loads(graded["batch"][0].json_path.read_text())
    assert set(ours) == set(expected)
    assert [check["id"] for check in ours["checks"]] == [check["id"] for check in expected["checks"]]
    assert set(ours["checks"][0]) == set(expected["checks"][0])
    assert ours["sandbox"]["isolation"]["mode"] == "bwrap"


def test_the_gradebook_separates_a_graded_zero_from_what_is_not_a_grade(graded):
    with open(graded["paths"].grades_csv, encoding="utf-8-sig", newline="") as stream:
        rows = {row["id"]: row for row in csv.DictReader(stream)}
    assert set(rows) == set(EXPECTED) | NOT_GRADED
    assert {entry_id: rows[entry_id]["status"] for entry_id in EXPECTED} == \
        {entry_id: status for entry_id, (_, status) in EXPECTED.items()}
    assert rows["segfault"]["score"] == "0" and rows["segfault"]["status"] == "graded"      # a real zero
    assert rows["damaged.zip"]["status"] == "unreadable" and "zip" in rows["damaged.zip"]["reason"]
    assert rows["README.txt"]["status"] == "not_graded" and rows["README.txt"]["score"] == ""
    assert rows["李四"]["fc.backward"] == "0" and rows["李四"]["fc.forward"] == "15"
    # a 0-point check says what happened (a 0 would be the same for all three)
    assert rows["张三"]["fc.backward.gradcheck"] == "pass" and rows["damaged.zip"]["fc.backward.gradcheck"] == "error"
    assert rows["README.txt"]["fc.backward.gradcheck"] == ""
    assert rows["张三"]["level"] == "100" and rows["李四"]["level"] == "0"
    assert (graded["out"] / rows["张三"]["report"]).is_file()


def test_gradescope_results_follow_the_schema_and_withhold_hidden_cases(graded):
    result = json.loads(next(item for item in graded["batch"] if item.name == "李四").json_path.read_text())
    folder = folder_name("李四")
    data = json.loads((graded["out"] / "gradescope" / f"{folder}.json").read_text(encoding="utf-8"))
    allowed_top = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
                   "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
    allowed_test = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
                    "tags", "visibility", "extra_data"}
    assert set(data) <= allowed_top and all(set(test) <= allowed_test for test in data["tests"])
    assert data["score"] == 70 and sum(test["score"] for test in data["tests"]) == 70
    assert all(test["visibility"] in ("visible", "hidden", "after_published", "after_due_date") for test in data["tests"])
    backward = next(test for test in data["tests"] if test["name"].startswith("fc.backward:"))
    assert backward["status"] == "failed" and "averages top_diff" in backward["output"]   # the public case's diagnosis
    hidden = [case for check in result["checks"] for case in check["cases"] if not case["public"] and case["message"]]
    assert hidden, "the example has a failing hidden case"
    text = json.dumps(data, ensure_ascii=False)
    assert all(case["message"] not in text for case in hidden)
    assert "hidden case did not pass (details are withheld)" in backward["output"]


def test_junit_xml_has_a_suite_per_submission(graded):
    tree = ElementTree.parse(graded["paths"].junit).getroot()
    suites = {suite.get("name"): suite for suite in tree.findall("testsuite")}
    assert set(suites) == set(EXPECTED) | {"not graded"}
    li = suites["李四"]
    # fc.backward and its finite-difference check (d_bias is checked there too) fail, fc.update is skipped
    assert li.get("failures") == "2" and li.get("skipped") == "1"
    assert li.find("testcase[@name='fc.backward']/failure") is not None
    assert li.find("testcase[@name='fc.backward.gradcheck']/failure") is not None
    assert int(tree.get("tests")) == sum(int(suite.get("tests")) for suite in suites.values())
    assert {case.get("name") for case in suites["not graded"].iter("testcase")} == NOT_GRADED


def test_index_links_every_report_and_lists_what_was_not_graded(graded):
    page = graded["paths"].index.read_text(encoding="utf-8")
    for item in graded["batch"]:
        folder = item.json_path.parent.name
        assert f'href="{folder}/result.json"' in page
    assert "README.txt" in page and "an empty folder" in page
    assert "<svg" in page and "score histogram" in page
    assert "your d_bias averages top_diff over the batch" in page          # the most common diagnosis of fc.backward


def test_an_output_folder_holding_a_batch_needs_resume_or_regrade(graded, capsys):
    status = cli.main(["grade", str(graded["root"]), "--lab", LAB, "--out", str(graded["out"])])
    assert status == 2
    assert "--resume" in capsys.readouterr().err
    with Store(graded["paths"].store) as store:
        assert max(store.times_graded().values()) == 1                    # nothing was graded again


def test_resume_with_nothing_changed_grades_nothing(graded):
    batch = api.grade(graded["root"], graded["out"], lab=LAB, resume=True)
    outcome = batch.outcomes[0]
    assert outcome.graded_now == [] and sorted(outcome.kept) == sorted(EXPECTED)
    with Store(graded["paths"].store) as store:
        assert set(store.times_graded().values()) == {1}


def test_without_a_lab_each_lab_folder_is_a_batch_of_its_own(tmp_path):
    root = tmp_path / "submissions"
    build_class(root / LAB, ["张三"])
    (root / "not-a-lab").mkdir()
    batch = api.grade(root, tmp_path / "reports")
    assert [(item.name, item.result.score) for item in batch] == [("张三", 100.0)]
    assert (tmp_path / "reports" / LAB / folder_name("张三") / "result.json").is_file()
    assert (tmp_path / "reports" / LAB / "grades.csv").is_file()


def test_the_examples_folder_layout_grades_with_the_readme_command(tmp_path):
    root = tmp_path / "submissions" / LAB
    root.mkdir(parents=True)
    for source in (CORRECT, NO_BIAS_GRAD):
        import shutil
        shutil.copytree(source, root / source.name)
    status = cli.main(["grade", str(tmp_path / "submissions"), "--out", str(tmp_path / "reports"), "--progress", "off"])
    assert status == 0
    assert (tmp_path / "reports" / LAB / folder_name("correct") / "report.html").is_file()
