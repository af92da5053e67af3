"""Never lose a result: a `harness grade` SIGKILLed mid-batch loses no finished submission and leaves nothing
running, `--resume` grades exactly what is missing or changed, `--regrade` grades everything and says whose
score changed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from batch_helpers import EXPECTED, LAB, REPOSITORY, build_class, graded_log
from harness import api
from harness.batch.layout import BatchPaths
from harness.batch.store import Store
from harness.sandbox import tree

KILLED_CLASS = ["张三", "李四", "alice smith", "alice_smith", "Bob", "bob", "STUDENT1.ZIP", "tar_student.tar.gz"]


def test_a_sigkilled_grader_loses_nothing_and_resume_grades_nothing_twice(tmp_path):
    root, out = build_class(tmp_path / "class", KILLED_CLASS), tmp_path / "out"
    store = BatchPaths(out).store
    grader = subprocess.Popen([sys.executable, "-m", "harness", "grade", str(root), "--lab", LAB, "--out", str(out),
                               "--jobs", "2", "--progress", "plain"],
                              cwd=REPOSITORY, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and grader.poll() is None:
            if store.is_file() and len(graded_log(store)) >= 2:
                break
            time.sleep(0.05)
        assert grader.poll() is None, "the batch ended before it could be killed: make it longer"
        family = [info.pid for info in tree.processes(grader.pid)]
        assert len(family) > 2, "the workers were running"
        os.kill(grader.pid, signal.SIGKILL)
        grader.wait()
    finally:
        if grader.poll() is None:
            grader.kill()
    # the workers and their sandboxes die with the grader
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in family[1:]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in family[1:])
    before = graded_log(store)
    assert 2 <= len(before) < len(KILLED_CLASS) and set(before.values()) == {1}
    with Store(store) as opened:               # every stored result is whole
        stored = {record.id: record for record in opened.records()}
    assert set(stored) == set(before)
    assert all(record.score == EXPECTED[record.id][0] for record in stored.values())

    batch = api.grade(root, out, lab=LAB, resume=True, jobs=2)

    after = graded_log(store)
    assert set(after) == set(KILLED_CLASS) and set(after.values()) == {1}      # nothing lost, nothing twice
    assert sorted(batch.outcomes[0].kept) == sorted(before)
    assert {item.name: item.result.score for item in batch} == {name: EXPECTED[name][0] for name in KILLED_CLASS}
    for item in batch:                                                          # the files of every submission
        assert item.json_path.is_file() and (item.json_path.parent / "report.html").is_file()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_resume_grades_again_only_a_changed_submission(tmp_path):
    root, out = build_class(tmp_path / "class", ["张三", "李四"]), tmp_path / "out"
    api.grade(root, out, lab=LAB)
    source = root / "李四" / "stu_upload" / "layers_1.py"
    source.write_text(source.read_text() + "\n# a late fix\n")
    (root / "张三" / "stu_upload" / "__pycache__").mkdir(exist_ok=True)        # opening a folder changes nothing
    (root / "张三" / "stu_upload" / "__pycache__" / "layers_1.cpython-311.pyc").write_bytes(b"\0" * 16)

    batch = api.grade(root, out, lab=LAB, resume=True)

    assert batch.outcomes[0].graded_now == ["李四"] and batch.outcomes[0].kept == ["张三"]
    assert graded_log(BatchPaths(out).store) == {"张三": 1, "李四": 2}
    # a row the harness failed on is no grade: the next resume tries it again, and only it
    import sqlite3
    with sqlite3.connect(BatchPaths(out).store) as connection:
        connection.execute("UPDATE results SET status = 'harness_error' WHERE id = '张三'")
    assert api.grade(root, out, lab=LAB, resume=True).outcomes[0].graded_now == ["张三"]


def test_regrade_grades_everything_and_reports_whose_score_changed(tmp_path):
    root, out = build_class(tmp_path / "class", ["张三", "李四"]), tmp_path / "out"
    spec = tmp_path / "aics-exp2-1.yaml"
    original = (REPOSITORY / "specs" / "aics-exp2-1.yaml").read_text()
    spec.write_text(original)
    api.grade(root, out, lab=str(spec))
    # a spec fix: fc.forward is worth more; 李四 (who fails fc.backward) and 张三 both gain
    assert "    points: 15\n" in original
    spec.write_text(original.replace("    points: 15\n", "    points: 16\n", 1))

    batch = api.grade(root, out, lab=str(spec), regrade=True)

    outcome = batch.outcomes[0]
    assert sorted(outcome.graded_now) == ["张三", "李四"]
    changes = {change.id: (change.previous_score, change.score) for change in outcome.changes}
    assert changes == {"张三": (100.0, 101.0), "李四": (70.0, 71.0)}
    from harness.batch.summary import format_batch
    assert "score changed: 李四: 70 -> 71" in format_batch(outcome)


def test_ctrl_c_writes_the_class_files_of_what_finished_and_resume_completes_them(tmp_path, capsys):
    from harness import cli
    root, out = build_class(tmp_path / "class", ["张三", "李四", "Bob"]), tmp_path / "out"
    real_record = Store.record

    def interrupt_after_the_first(self, record):       # Ctrl-C arrives once the first submission is stored
        real_record(self, record)
        raise KeyboardInterrupt

    Store.record = interrupt_after_the_first
    try:
        code = cli.main(["grade", str(root), "--lab", LAB, "--out", str(out), "--progress", "off"])
    finally:
        Store.record = real_record
    assert code == 130 and capsys.readouterr().err.endswith("harness: interrupted\n")
    rows = (out / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 2                                  # the header and the one finished submission
    assert cli.main(["grade", str(root), "--lab", LAB, "--out", str(out), "--resume", "--progress", "off"]) == 0
    rows = (out / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 4
