"""Entry names as they arrive (red team: long-unicode-name, non-utf8-name): an id of 62 emoji, a folder and a zip
named in GBK bytes (what `unzip` leaves of a zip made on Chinese Windows) beside the same name in UTF-8, and an
output file that cannot be written. Every entry is graded, ids are valid Unicode and unique, every output keeps the
full id, and a submission whose files cannot be written costs only its files (its row says so), never the run."""
from __future__ import annotations

import csv
import json
import os
import zipfile
from pathlib import Path

import pytest

from batch_helpers import CORRECT, LAB, copy_submission
from harness import api
from harness.batch.layout import BatchPaths, MAX_STEM_BYTES, folder_name, write_atomically
from harness.batch.store import Store
from harness.submission import discover_entries, entry_name

EMOJI = "0" + "\U0001F600" * 62                       # 249 bytes: under NAME_MAX itself, over it once derived from
GBK_NAME = "张三".encode("gbk")                        # b"\xd5\xc5\xc8\xfd"
GBK_ZIP = "李四.zip".encode("gbk")
UNDECODABLE = b"\xff\xfestudent"                       # neither UTF-8 nor GB18030


def _at(root: Path, raw: bytes) -> Path:
    """The path of the entry named by the bytes ``raw`` (a str with surrogates, as os hands it over)."""
    return Path(os.fsdecode(os.fsencode(root) + b"/" + raw))


def _zip_of_correct(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as bundle:
        for file in sorted((CORRECT / "stu_upload").glob("*.py")):
            bundle.write(file, f"stu_upload/{file.name}")


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    base = tmp_path_factory.mktemp("names")
    root, out = base / "class", base / "out"
    root.mkdir()
    copy_submission(CORRECT, root / EMOJI)
    copy_submission(CORRECT, _at(root, GBK_NAME))
    copy_submission(CORRECT, root / "张三")                 # the same name in UTF-8: both are graded, apart
    _zip_of_correct(_at(root, GBK_ZIP))
    copy_submission(CORRECT, _at(root, UNDECODABLE))
    copy_submission(CORRECT, root / "bob")
    misnamed = _at(_at(root, "王五".encode("gbk")), "实验".encode("gbk"))     # GBK all the way down, misnamed
    misnamed.mkdir(parents=True)
    (misnamed / "layers_one.py").write_text("x = 1\n")
    out.mkdir()
    (out / folder_name("bob")).write_text("a file where bob's folder goes: his files cannot be written\n")
    batch = api.grade(root, out, lab=LAB, jobs=2)
    return {"root": root, "out": out, "batch": batch, "paths": BatchPaths(out)}


def test_every_entry_is_graded_under_a_valid_unique_id(named):
    ids = [item.name for item in named["batch"]]
    escaped = "\\xff\\xfestudent"
    assert sorted(ids) == sorted([EMOJI, "张三", "\\xd5\\xc5\\xc8\\xfd", "李四.zip", escaped, "bob", "王五"])
    assert all(item.result.score == item.result.max_score for item in named["batch"] if item.name not in ("bob", "王五"))
    for entry_id in ids:
        entry_id.encode("utf-8")                           # valid Unicode: no lone surrogates


def test_messages_name_folders_as_the_student_named_them(named):
    wang = next(item for item in named["batch"] if item.name == "王五")
    message = next(check for check in wang.result.checks if check.id == "fc.forward").message
    assert "/王五 holds any of layers_1.py; it has 实验/layers_one.py" in message and "found 实验/layers_one.py" in message


def test_outputs_keep_the_full_id_and_every_file_name_fits(named):
    out, paths = named["out"], named["paths"]
    with open(paths.grades_csv, encoding="utf-8-sig", newline="") as stream:
        rows = {row["id"]: row for row in csv.DictReader(stream)}
    assert rows[EMOJI]["score"] == "100" and rows["李四.zip"]["score"] == "100"
    for item in named["batch"]:
        if item.name == "bob":
            continue
        assert json.loads(item.json_path.read_text(encoding="utf-8"))["submission"] == item.name
        assert len(item.json_path.parent.name.encode("utf-8")) <= MAX_STEM_BYTES + 1 + 8
        gradescope = json.loads(paths.gradescope(item.json_path.parent.name).read_text(encoding="utf-8"))
        assert gradescope["extra_data"]["id"] == item.name
    assert EMOJI in paths.index.read_text(encoding="utf-8")
    assert not list(out.rglob("*.tmp"))


def test_a_submission_whose_files_cannot_be_written_keeps_its_result_and_says_so(named):
    bob = next(item for item in named["batch"] if item.name == "bob")
    assert bob.result.score == bob.result.max_score and "files could not be written" in bob.reason
    with open(named["paths"].grades_csv, encoding="utf-8-sig", newline="") as stream:
        row = next(row for row in csv.DictReader(stream) if row["id"] == "bob")
    assert row["score"] == "100" and "files could not be written" in row["reason"]
    # once the obstacle is gone, --resume writes the files from the store and the row no longer says so
    (named["out"] / folder_name("bob")).unlink()
    batch = api.grade(named["root"], named["out"], lab=LAB, resume=True)
    assert batch.outcomes[0].graded_now == []
    bob = next(item for item in batch if item.name == "bob")
    assert bob.json_path.is_file() and "could not be written" not in bob.reason
    with Store(named["paths"].store) as store:
        assert set(store.times_graded().values()) == {1}


def test_names_are_read_as_utf8_then_gb18030_then_escaped_and_never_shared(tmp_path):
    assert entry_name("张三".encode()) == entry_name("张三".encode("gbk")) == "张三"
    assert entry_name(b"\xff\xfe") == "\\xff\\xfe"
    for raw in ("张三".encode(), "张三".encode("gbk"), "张三_1".encode("gbk")):
        _at(tmp_path, raw).mkdir()
    entries = discover_entries(tmp_path)
    assert [entry.id for entry in entries] == sorted(["张三", "\\xd5\\xc5\\xc8\\xfd", "张三_1"])
    assert {os.fsencode(entry.path.name) for entry in entries} == {"张三".encode(), "张三".encode("gbk"),
                                                                     "张三_1".encode("gbk")}


def test_folder_names_fit_in_bytes_and_temporary_files_have_short_names(tmp_path):
    for entry_id in (EMOJI, "한" * 80, "张" * 100, "a" * 300, "\udcd5\udcc5"):
        name = folder_name(entry_id)
        assert len(name.encode("utf-8")) <= MAX_STEM_BYTES + 1 + 8 and name.isprintable()
    longest = tmp_path / ("x" * 250)                        # a target near NAME_MAX is still written whole
    write_atomically(longest, "whole")
    assert longest.read_text() == "whole" and [path.name for path in tmp_path.iterdir()] == [longest.name]
