"""The attacks in a `harness grade` batch: an attacker neither changes another student's result nor stalls
or stops the batch, and nothing of it outlives the grader, even when the grader is SIGKILLed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from harness import api
from harness.batch.layout import folder_name

from hostile_helpers import LAB, REPOSITORY, marked_processes, write_submission
from test_attacks import DEVICES, DIR_FD, FORGED_FRAME, IMPORT_LOOP, OFFLOAD, REMOUNT, SLEEP


def test_a_batch_with_attackers_grades_everyone_and_keeps_every_result(tmp_path):
    batch, out = tmp_path / "batch", tmp_path / "reports"
    batch.mkdir()
    first_result = out / folder_name("a-honest") / "result.json"      # the batch layout (harness.batch.layout)
    write_submission(batch, "a-honest", "")
    # one submission trying, at import, to rewrite the earlier student's saved result, to read the
    # repository, to make device files, and to leave a helper running
    write_submission(batch, "b-intruder", REMOUNT + DIR_FD + DEVICES + OFFLOAD, target=str(first_result),
                     directory=str(REPOSITORY), entry=".git/HEAD", flags=0)
    write_submission(batch, "c-forger", FORGED_FRAME)
    write_submission(batch, "d-sleeper", SLEEP)
    write_submission(batch, "e-honest", "")
    saved = {}

    def remember(graded):
        saved[graded.name] = graded.json_path.read_bytes()

    started = time.monotonic()
    # the budgets leave the honest code room on a loaded machine; the sleeper loses fc.forward's 3 s
    limits = {"check_budget": "3", "submission_budget": "30"}
    graded = {item.name: item.result for item in api.grade(batch, out, lab=LAB, limits=limits, on_result=remember)}
    assert time.monotonic() - started < 60
    assert list(graded) == ["a-honest", "b-intruder", "c-forger", "d-sleeper", "e-honest"]
    assert graded["a-honest"].score == graded["e-honest"].score == graded["a-honest"].max_score
    assert first_result.read_bytes() == saved["a-honest"]
    assert json.loads(first_result.read_text())["score"] == graded["a-honest"].max_score
    # every attack failed: the intruder's code is the honest code, so it scores what the honest code does
    assert graded["b-intruder"].score == graded["b-intruder"].max_score
    assert graded["c-forger"].score < graded["c-forger"].max_score
    assert any("interfered with the result channel" in check.message for check in graded["c-forger"].checks)
    assert any(check.status == "timeout" for check in graded["d-sleeper"].checks)
    assert all(result.sandbox["isolation"]["mode"] == "bwrap" for result in graded.values())
    assert not marked_processes()


def test_no_process_of_the_sandbox_survives_a_sigkilled_grader(tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    write_submission(batch, "import-loop", IMPORT_LOOP)
    grader = subprocess.Popen([sys.executable, "-m", "harness", "grade", str(batch), "--lab", LAB, "--out",
                               str(tmp_path / "out"), "--limit", "check_budget=120"],
                              cwd=REPOSITORY, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not marked_processes() and time.monotonic() < deadline:
            time.sleep(0.1)
        running = marked_processes()
        assert running, "the sandbox child never started"
        os.kill(grader.pid, signal.SIGKILL)
        grader.wait()
        deadline = time.monotonic() + 5
        while marked_processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not marked_processes()
    finally:
        if grader.poll() is None:
            grader.kill()
