"""Executors: a worker that dies or overruns costs its own submission a row, never the batch; a Dask cluster
(a real LocalCluster on the loopback interface) grades exactly as the local workers do."""
from __future__ import annotations

import json
import os
import signal

import pytest

from batch_helpers import LAB, build_class
from harness import api
from harness.batch.content import content_hash
from harness.batch.executors import LocalExecutor
from harness.batch.layout import folder_name
from harness.batch.task import Settings, Task
from harness.sandbox import tree


def _tasks(root, names):
    return [Task(name, str(root / name), LAB, folder_name(name), content_hash(root / name)) for name in names]


def test_a_worker_that_dies_costs_its_submission_only(tmp_path):
    root = build_class(tmp_path / "class", ["张三", "李四", "alice smith"])
    executor = LocalExecutor(1, Settings(), watchdog_seconds=lambda task: 600)
    killed = []

    def started(task):
        if task.id == "张三":                     # the worker holding the first submission is killed mid-grading
            worker = executor._workers[0].process.pid
            os.kill(worker, signal.SIGKILL)
            killed.append(worker)

    outcomes = {task.id: outcome for task, outcome in executor.run(_tasks(root, ["张三", "李四", "alice smith"]), started)}

    assert killed
    assert outcomes["张三"]["status"] == "harness_error" and "killed by SIGKILL" in outcomes["张三"]["reason"]
    assert outcomes["李四"]["score"] == 70 and outcomes["alice smith"]["score"] == 100


def test_a_worker_past_the_watchdog_is_stopped_with_its_sandbox(tmp_path):
    root = build_class(tmp_path / "class", ["张三", "李四"])
    limits = {"张三": 0.5, "李四": 600}
    executor = LocalExecutor(1, Settings(), watchdog_seconds=lambda task: limits[task.id])
    family = []

    def started(task):
        family.append(executor._workers[0].process.pid)

    outcomes = {task.id: outcome for task, outcome in executor.run(_tasks(root, ["张三", "李四"]), started)}

    assert outcomes["张三"]["status"] == "timeout" and "more than 0.5 s" in outcomes["张三"]["reason"]
    assert "the worker was stopped" in outcomes["张三"]["reason"]
    assert outcomes["李四"]["score"] == 70
    assert not tree.processes(family[0])          # the first worker and its sandbox children are gone


def test_a_crashed_worker_row_is_an_error_row_in_every_output(tmp_path):
    from harness.batch.run import _failed_result
    from harness.spec import load_spec
    spec = load_spec(LAB)
    task = _tasks(build_class(tmp_path / "class", ["张三"]), ["张三"])[0]
    row = _failed_result(task, {"status": "harness_error", "reason": "the grading worker died (killed by SIGKILL)"},
                         spec)
    result = json.loads(row["result_json"])
    assert result["submission"] == "张三" and result["error"].startswith("the grading worker died")
    assert all(check["status"] == "error" and check["harness_fault"] for check in result["checks"])
    assert row["score"] == 0 and "张三" in row["report_html"]


def _comparable(batch) -> dict:
    return {item.name: (item.status, item.result.score, item.result.level,
                        [(check.id, check.status, check.points) for check in item.result.checks]) for item in batch}


def test_a_dask_local_cluster_grades_as_the_local_workers_do(tmp_path):
    pytest.importorskip("distributed", reason="dask.distributed is the cluster extra")
    names = ["张三", "李四", "damaged.zip"]
    root = build_class(tmp_path / "class", names)
    local = api.grade(root, tmp_path / "local", lab=LAB, jobs=2)
    on_dask = api.grade(root, tmp_path / "dask", lab=LAB, jobs=2, executor="dask")
    assert _comparable(on_dask) == _comparable(local)
    assert [item.name for item in on_dask] == sorted(names)
    assert (tmp_path / "dask" / "grades.csv").read_text(encoding="utf-8-sig").splitlines()[1:] == \
        (tmp_path / "local" / "grades.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
