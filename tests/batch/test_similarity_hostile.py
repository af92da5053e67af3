"""The similarity report against hostile submissions (red team: similarity-symlink, -crash, -pagemap, -bigfile,
-evasion): links and special files are never read, every file and submission is bounded, a file that cannot be
read costs a note, tokenising runs in bounded subprocesses and costs only the submission it cannot finish, code
moved into a helper module is compared, compiled code without source is flagged, and a batch's era probes are
not run again by the report."""
from __future__ import annotations

import os
import py_compile
import shutil
import time
import zipfile

import pytest

from batch_helpers import CORRECT, LAB, REPOSITORY, copy_submission
from harness import api, bounded, era
from harness.batch import similarity

pytest.importorskip("copydetect", reason="copydetect is the similarity extra")

SECRET = "grader-secret-6b1e0f9c"
WRAPPER = ("try:\n    from ._impl import FullyConnectedLayer, ReLULayer, SoftmaxLossLayer\n"
           "except ImportError:\n    from _impl import FullyConnectedLayer, ReLULayer, SoftmaxLossLayer\n")


def _upload(root, name):
    upload = root / name / "stu_upload"
    upload.mkdir(parents=True)
    (upload / "__init__.py").write_text("")
    return upload


def _alice(root):
    upload = _upload(root, "alice")
    shutil.copy(CORRECT / "stu_upload" / "layers_1.py", upload / "layers_1.py")


def _carol(root):                             # different code: the reference's course-layout module
    upload = _upload(root, "carol")
    shutil.copy(REPOSITORY / "reference" / "aics" / "layers_1.py", upload / "layers_1.py")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("similarity-hostile")
    root, secret = base / "class", base / "grader" / "secret"
    secret.parent.mkdir()                              # a grader's file: the solution, with a secret in it
    secret.write_text((CORRECT / "stu_upload" / "layers_1.py").read_text() + f"\n# {SECRET}\n")
    _alice(root)
    _carol(root)
    mallory = _upload(root, "mallory")                 # links to the grader's files and to /proc
    shutil.copy(CORRECT / "stu_upload" / "layers_1.py", mallory / "layers_1.py")
    (mallory / "helper_env.py").symlink_to("/proc/self/environ")
    (mallory / "helper_secret.py").symlink_to(secret)
    (mallory / "helper_mem.py").symlink_to("/proc/self/mem")
    (mallory / "helper_pagemap.py").symlink_to("/proc/self/pagemap")
    os.mkfifo(mallory / "helper_fifo.py")              # opened without blocking, and not read
    trudy = _upload(root, "trudy")                     # only links where the spec's file should be
    (trudy / "layers_1.py").symlink_to(secret)
    (_upload(root, "victor") / "layers_1.py").symlink_to("/proc/self/mem")    # EIO once read: ended the report
    big = _upload(root, "big")                         # 3 MB of ordinary-looking Python beside the real file
    shutil.copy(CORRECT / "stu_upload" / "layers_1.py", big / "layers_1.py")
    (big / "helpers.py").write_text("".join(f"def f{i}(a, b):\n    return a * {i} + b\n" for i in range(90_000)))
    started = time.perf_counter()
    report = api.similarity(root, base / "out", lab=LAB)
    seconds = time.perf_counter() - started
    page = (base / "out" / "similarity.html").read_text(encoding="utf-8")
    return {"report": report, "page": page, "seconds": seconds, "root": root}


def test_links_and_special_files_are_never_read_and_say_so(hostile):
    page, report = hostile["page"], hostile["report"]
    assert SECRET not in page and "PATH=" not in page
    mallory = next(document for document in report.documents if document.id == "mallory")
    problems = "\n".join(mallory.problems)
    for name in ("helper_env.py", "helper_secret.py", "helper_mem.py", "helper_pagemap.py"):
        assert f"{name}: a symbolic link, not followed" in problems
    assert "helper_fifo.py: not a regular file, not read" in problems
    assert "helper_mem.py: a symbolic link" in page                     # listed under "To look at"
    assert dict(report.skipped)["trudy"].startswith("no Python source found")
    assert "layers_1.py: a symbolic link, not followed" in dict(report.skipped)["trudy"]
    assert "layers_1.py: a symbolic link, not followed" in dict(report.skipped)["victor"]


def test_sources_are_bounded_per_file_and_the_report_is_quick(hostile):
    big = next(document for document in hostile["report"].documents if document.id == "big")
    assert len(big.text) < 100_000 and any(problem.startswith("helpers.py: left out") for problem in big.problems)
    assert hostile["seconds"] < 30                                       # 16 MB took 90 s and 2.6 GB before


def test_a_file_that_fails_to_read_costs_a_note(tmp_path, monkeypatch):
    path = tmp_path / "layers_1.py"
    path.write_text("x = 1\n")
    real_read = os.read

    def failing(descriptor, size):
        if os.fstat(descriptor).st_ino == path.stat().st_ino:
            raise OSError(5, "Input/output error")
        return real_read(descriptor, size)
    monkeypatch.setattr(os, "read", failing)
    assert similarity.read_regular_file(path, 1000) == (None, "could not be read (Input/output error)")


def test_a_document_that_cannot_be_tokenised_costs_only_itself(tmp_path, monkeypatch):
    root = tmp_path / "class"
    _alice(root)
    copy_submission(CORRECT, root / "bob")
    hostile = _upload(root, "zed")
    hostile_text = (CORRECT / "stu_upload" / "layers_1.py").read_text() + "\n# HOSTILE-MARKER\n"
    (hostile / "layers_1.py").write_text(hostile_text)
    real_run = bounded.run

    def refusing(program, request, bounds, path=()):
        if program == "simtokens.py" and any("HOSTILE-MARKER" in text for text in request["documents"]):
            return None, "it used more than its 20 s of CPU time"
        return real_run(program, request, bounds, path)
    monkeypatch.setattr(bounded, "run", refusing)
    report = api.similarity(root, tmp_path / "out", lab=LAB)
    assert [(pair.a.id, pair.b.id) for pair in report.pairs] == [("alice", "bob")]
    assert dict(report.skipped)["zed"] == "its code could not be tokenised: it used more than its 20 s of CPU time"


def test_code_moved_into_a_helper_module_is_compared_and_bytecode_without_source_is_flagged(tmp_path):
    root = tmp_path / "class"
    _alice(root)
    _carol(root)
    mallory = _upload(root, "mallory")
    shutil.copy(CORRECT / "stu_upload" / "layers_1.py", mallory / "_impl.py")
    (mallory / "layers_1.py").write_text(WRAPPER)
    oscar = _upload(root, "oscar")
    (oscar / "layers_1.py").write_text(WRAPPER)
    py_compile.compile(str(CORRECT / "stu_upload" / "layers_1.py"), cfile=str(oscar / "_impl.pyc"), doraise=True)
    with zipfile.ZipFile(root / "zoe.zip", "w") as bundle:         # an archive: through the bounded unpacker
        bundle.writestr("stu_upload/_impl.py", (CORRECT / "stu_upload" / "layers_1.py").read_bytes())
        bundle.writestr("stu_upload/layers_1.py", WRAPPER)
    report = api.similarity(root, tmp_path / "out", lab=LAB)
    pairs = {(pair.a.id, pair.b.id): pair.score for pair in report.pairs}
    assert pairs[("alice", "mallory")] > 0.9 and pairs[("alice", "zoe.zip")] > 0.9
    assert not any("carol" in pair for pair in pairs)
    oscar_document = next(document for document in report.documents if document.id == "oscar")
    assert oscar_document.compiled == ["_impl.pyc"]
    assert "compiled code without source: oscar: _impl.pyc" in report.summary()
    page = (tmp_path / "out" / "similarity.html").read_text(encoding="utf-8")
    assert "compiled code without its source: _impl.pyc" in page
    # grading does not run the bytecode (harness.sandbox.scratch copies no compiled code): the wrapper's import
    # fails, and the result says why and which file
    graded = api.check(root / "oscar", lab=LAB, only=["fc.forward"])
    assert next(check for check in graded.checks if check.id == "fc.forward").status == "error"
    assert any("compiled code without its source: _impl.pyc" in line for line in graded.semantics["evidence"])
    assert "_impl.pyc was not copied: it is compiled code" in graded.json_text()


def test_a_graded_batch_is_not_probed_again_by_its_similarity_report(tmp_path, monkeypatch):
    root = tmp_path / "class"
    _alice(root)
    copy_submission(CORRECT, root / "bob")
    api.grade(root, tmp_path / "out", lab=LAB, limits={"submission_budget": "60"})
    era._MEMO.clear()
    real_run = bounded.run

    def no_probe(program, request, bounds, path=()):
        assert program != "py2probe.py", "the era probe ran again"
        return real_run(program, request, bounds, path)
    monkeypatch.setattr(bounded, "run", no_probe)
    report = api.similarity(root, tmp_path / "out", lab=LAB)
    assert [(pair.a.id, pair.b.id) for pair in report.pairs] == [("alice", "bob")]
