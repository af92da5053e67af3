"""The batch's parts on their own: folder names, the content hash, the store's transactions, the progress
display, the timing gate, and the values shared by the workers."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest

from batch_helpers import CORRECT, LAB, build_class, copy_submission
from harness.batch.content import content_hash
from harness.batch.gate import BatchGate
from harness.batch.layout import folder_name
from harness.batch.progress import BatchProgress
from harness.batch.shared import SharedValues, _mapped_params, _vgg_cache
from harness.batch.store import Record, Store


# --- folder names -----------------------------------------------------------------------------------------

def test_folder_names_are_safe_distinct_and_stable():
    ids = ["张三", "alice smith", "alice_smith", "Bob", "bob", "CON", "../../etc", ".hidden", "a" * 300, "a" * 301,
           "x\ny", "=HYPERLINK()"]
    names = [folder_name(entry_id) for entry_id in ids]
    assert len({name.casefold() for name in names}) == len(ids)
    assert all("/" not in name and "\\" not in name and "\n" not in name and not name.startswith(".")
               for name in names)
    assert all(len(name) <= 60 + 1 + 8 for name in names)
    assert folder_name("张三") == names[0] and names[0].startswith("张三-")
    assert names[ids.index("CON")].startswith("_CON")
    taken = {folder_name("bob")}
    longer = folder_name("bob", taken={folder_name("bob").upper()})       # a clash makes the hash longer
    assert longer not in taken and longer.casefold() != folder_name("bob").casefold()


def test_content_hash_sees_changes_and_ignores_what_editors_add(tmp_path):
    submission = copy_submission(CORRECT, tmp_path / "s")
    before = content_hash(submission)
    (submission / "stu_upload" / ".DS_Store").write_bytes(b"finder")
    (submission / "stu_upload" / "__pycache__").mkdir()
    (submission / "stu_upload" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert content_hash(submission) == before
    (submission / "stu_upload" / "layers_1.py").write_text("# changed\n")
    assert content_hash(submission) != before
    moved = copy_submission(CORRECT, tmp_path / "t")
    (moved / "stu_upload" / "layers_1.py").rename(moved / "stu_upload" / "layers_one.py")
    assert content_hash(moved) != before


# --- the store --------------------------------------------------------------------------------------------

def _record(entry_id: str, score: float, run: int) -> Record:
    return Record(entry_id, LAB, folder_name(entry_id), "c", "s", "graded", "", score, 100.0, 0, "{}", "<html>",
                  time.time(), run)


def test_the_store_keeps_every_commit_and_each_grading_once(tmp_path):
    path = tmp_path / "grades.sqlite"
    with Store(path) as store:
        run = store.start_run("new", 1, "local", "test")
        assert store.record(_record("张三", 70.0, run)) is None
        again = store.start_run("regrade", 1, "local", "test")
        change = store.record(_record("张三", 100.0, again))
    assert (change.previous_score, change.score) == (70.0, 100.0)
    # a second connection (another process) sees both gradings, the latest result and the change
    with Store(path) as reader:
        assert reader.times_graded() == {"张三": 2}
        assert reader.get("张三").score == 100.0 and reader.get("张三").report_html == "<html>"
        assert [(c.id, c.previous_score, c.score) for c in reader.changes(again)] == [("张三", 70.0, 100.0)]


def test_a_killed_writer_leaves_no_half_record(tmp_path):
    path = tmp_path / "grades.sqlite"
    Store(path).close()
    writer = subprocess.Popen([sys.executable, "-c", f"""
import sqlite3, os, signal
db = sqlite3.connect({str(path)!r}, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO results (id, lab, folder, content_hash, spec_sha256, status, result_json, graded_at, run) "
           "VALUES ('half', 'x', 'half-1', 'c', 's', 'graded', '{{}}', 0, 1)")
os.kill(os.getpid(), signal.SIGKILL)      # before COMMIT
"""])
    writer.wait()
    with Store(path) as store:
        assert store.records() == [] and store.times_graded() == {}


# --- progress -----------------------------------------------------------------------------------------------

def _task(name):
    return SimpleNamespace(id=name)


def test_progress_is_plain_lines_off_a_terminal():
    stream = io.StringIO()
    with BatchProgress(stream, total=2, mode="auto") as progress:
        progress.started(_task("张三"))
        progress.finished(_task("张三"), {"status": "graded", "score": 70.0, "max_score": 100.0, "level": 0})
        progress.finished(_task("bad.zip"), {"status": "unreadable", "reason": "not a readable .zip file"})
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/2] 张三: 70/100, level 0 (graded) in ")
    assert lines[1].startswith("[2/2] bad.zip: unreadable archive: not a readable .zip file")
    assert "\x1b" not in stream.getvalue() and "\r" not in stream.getvalue()


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_shows_done_running_and_eta():
    stream = _Terminal()
    running = [_task("alice smith"), _task("张三")]
    progress = BatchProgress(stream, total=10, mode="auto", running=lambda: running, jobs=2)
    for name in running:
        progress.started(_task(name.id))
    progress.durations = [4.0, 6.0]
    progress.done = 2
    progress._draw()
    line = stream.getvalue().rsplit("\r", 1)[-1]
    assert line.startswith("\x1b[2K[ 2/10] 2 running: alice smith (0 s), 张三 (0 s)")
    assert "ETA 20 s" in line                      # 8 left x 5 s median / 2 workers


# --- the timing gate --------------------------------------------------------------------------------------

@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_the_gate_keeps_other_workers_off_the_measuring_cpu_while_it_measures(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.05)"])
    try:
        gate = BatchGate(tmp_path / "gate")
        gate.register(other.pid)
        everything = set(os.sched_getaffinity(0))
        with gate.measuring() as cpu:
            assert cpu in everything
            assert os.sched_getaffinity(other.pid) == everything - {cpu}
        assert os.sched_getaffinity(other.pid) == everything
    finally:
        other.kill()
        other.wait()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_the_gate_never_moves_the_measuring_process_through_a_registered_ancestor(tmp_path):
    """A registered coordinator is the parent of every worker: moving its tree would take the measuring
    worker and the sandbox it times off the measuring CPU (found by a red team: everything ran on one CPU)."""
    from harness.batch.gate import _start_time
    gate = BatchGate(tmp_path / "gate")
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / f"{os.getppid()}.worker").write_text(_start_time(os.getppid()))
    assert gate._workers() == []
    with gate.measuring() as cpu:
        assert cpu in os.sched_getaffinity(0)


def test_the_gate_never_moves_a_process_that_reused_a_dead_workers_id(tmp_path):
    gate = BatchGate(tmp_path / "gate")
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / f"{os.getppid()}.worker").write_text("1")        # a wrong start time: not that process
    assert gate._workers() == []


# --- shared values ------------------------------------------------------------------------------------------

def test_shared_values_give_the_runner_the_values_it_computes_itself(tmp_path):
    from harness import api
    from harness.context import build_context
    from harness.spec import load_spec
    spec = load_spec(LAB)
    shared = SharedValues.build(spec, build_context(spec), tmp_path / "shared")
    assert len(shared) == sum(len(check.cases) for check in spec.checks if not check.is_property)
    check = spec.checks[0]
    inputs, expected = shared.get(check.id, check.cases[0].name)
    name = next(iter(inputs))
    inputs[name][...] = 0                                     # a check's copy: the next one gets the original
    again, _ = shared.get(check.id, check.cases[0].name)
    assert np.any(again[name] != 0)
    build_class(tmp_path / "class", ["李四"])
    context = build_context(spec)
    context.shared_values = SharedValues.open(tmp_path / "shared")
    with_shared = api.check(tmp_path / "class" / "李四", context=context)
    alone = api.check(tmp_path / "class" / "李四", lab=LAB)
    assert [(c.id, c.status, c.message) for c in with_shared.checks] == [(c.id, c.status, c.message) for c in alone.checks]
    # and the runner does take them from there: spoil one expected array and its check fails
    index = json.loads((tmp_path / "shared" / "index.json").read_text())
    file = next(iter(index["cases"][f"{check.id}\0{check.cases[0].name}"]["expected"].values()))["file"]
    np.save(tmp_path / "shared" / file, np.zeros_like(np.load(tmp_path / "shared" / file)))
    context.shared_values = SharedValues.open(tmp_path / "shared")
    spoiled = api.check(tmp_path / "class" / "李四", context=context, only=[check.id])
    assert spoiled.check(check.id).status == "fail"


def test_vgg_weights_are_cached_once_and_mapped_read_only(tmp_path, monkeypatch):
    from reference.vgg19 import matconvnet
    from reference.vgg19.params import VGG19Params
    rng = np.random.default_rng(0)
    small = VGG19Params(conv={"conv1_1": (rng.normal(size=(3, 3, 3, 4)).astype(np.float32), np.zeros(4, np.float32))},
                        fc={"fc8": (rng.normal(size=(6, 5)).astype(np.float32), np.ones(5, np.float32))},
                        mean_rgb=np.array([1.0, 2.0, 3.0]), class_names=["a", "b"])
    calls = []
    monkeypatch.setattr(matconvnet, "load_params", lambda path: calls.append(path) or small)
    weights = tmp_path / "weights.mat"
    weights.write_bytes(b"stand-in")
    first = _vgg_cache(weights, tmp_path / "cache")
    assert _vgg_cache(weights, tmp_path / "cache") == first and len(calls) == 1      # written once
    mapped32, mapped64 = _mapped_params(first, "32"), _mapped_params(first, "64")
    weight32, weight64 = mapped32.conv["conv1_1"][0], mapped64.conv["conv1_1"][0]
    assert isinstance(weight32, np.memmap) and weight32.dtype == np.float32 and weight64.dtype == np.float64
    assert np.array_equal(weight32, small.conv["conv1_1"][0]) and np.array_equal(weight64, weight32.astype(np.float64))
    assert not weight64.flags.writeable
    # the reference model's float64 copy of a float64 map is the map itself: one copy for every worker
    assert np.shares_memory(np.ascontiguousarray(weight64, dtype=np.float64), weight64)
    assert mapped32.class_names == ["a", "b"] and list(mapped32.mean_rgb) == [1.0, 2.0, 3.0]


# --- Gradescope visibility ----------------------------------------------------------------------------------

def test_a_check_with_only_hidden_cases_is_shown_after_publishing_without_its_details():
    from harness.batch.gradescope import gradescope_results
    hidden_message = "out: 3 of 9 values differ at (0, 1, 2)"
    result = {"lab": LAB, "checks": [
        {"id": "open", "title": "public and hidden", "status": "fail", "points": 0.0, "max_points": 5.0,
         "message": "case lab: out differs", "cases": [
             {"name": "lab", "public": True, "status": "fail", "message": "out differs", "diagnosis": "bias missing"},
             {"name": "secret", "public": False, "status": "fail", "message": hidden_message, "diagnosis": "x"}]},
        {"id": "closed", "title": "hidden only", "status": "fail", "points": 0.0, "max_points": 5.0,
         "message": f"case secret: {hidden_message}", "cases": [
             {"name": "secret", "public": False, "status": "fail", "message": hidden_message, "diagnosis": ""}]}]}
    record = _record("张三", 0.0, 1)
    record.result_json = json.dumps(result)
    tests = {test["name"].split(":")[0]: test for test in gradescope_results(record)["tests"]}
    assert tests["open"]["visibility"] == "visible" and "bias missing" in tests["open"]["output"]
    assert tests["closed"]["visibility"] == "after_published"
    assert all(hidden_message not in test["output"] and "secret" not in test["output"] for test in tests.values())


def test_a_huge_sparse_file_is_hashed_without_reading_it(tmp_path):
    import time
    from harness.batch.content import MAX_HASHED_BYTES, content_hash
    entry = tmp_path / "student"
    entry.mkdir()
    with open(entry / "data.npy", "wb") as sparse:         # a terabyte of holes, as `tar -S` unpacks one
        sparse.truncate(1 << 40)
    started = time.monotonic()
    first = content_hash(entry)
    assert time.monotonic() - started < 5
    with open(entry / "data.npy", "r+b") as sparse:         # a change in its last bytes is still a change
        sparse.seek((1 << 40) - 10)
        sparse.write(b"x")
    assert content_hash(entry) != first and (1 << 40) > MAX_HASHED_BYTES
