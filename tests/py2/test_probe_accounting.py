"""What the era probe costs a submission (red team: era-probe-stall): it reads a bounded amount of source, runs
once per submission content (the Python 2 re-run and the similarity report reuse its answer, in this process or
through a batch's folder), a probe that failed is not run again in another mode, and its seconds are charged to
the submission's time budget."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness import bounded, era

PY2_HELPER = "".join(f"def f{i}(a, b):\n    return map(lambda x: x + a, range(b)), dict(a=1).keys()\n"
                     for i in range(20_000))                     # ~1.3 MB of Python 2: fissix needs ~45 s for it
PY2 = b"def size(h, k, s):\n    print 'size', h\n    return (h - k) / s + 1\n"
BOTH = b"def size(h, k, s):\n    return (h - k) / s + 1\n"


@pytest.fixture(autouse=True)
def fresh_memo():
    era._MEMO.clear()
    era.use_cache(None)
    yield
    era._MEMO.clear()
    era.use_cache(None)


@pytest.fixture
def probes(monkeypatch):
    """Every probe subprocess started: (program, mode)."""
    started, real = [], bounded.run

    def counting(program, request, bounds, path=()):
        started.append((program, request.get("mode")))
        return real(program, request, bounds, path)
    monkeypatch.setattr(bounded, "run", counting)
    return started


def test_large_files_are_not_translated_and_the_notes_say_so(tmp_path):
    (tmp_path / "layers_1.py").write_bytes(PY2)
    for index in range(2):
        (tmp_path / f"helpers_{index}.py").write_text("print 'x'\n" + PY2_HELPER)
    started = time.perf_counter()
    decided = era.decide(tmp_path)
    assert time.perf_counter() - started < 15
    assert decided.python == "2.7" and set(decided.files) == {"layers_1.py"}
    assert sum("was not examined for its Python version" in note for note in decided.notes) == 2
    assert any("helpers_0.py" in line for line in decided.semantics["evidence"])


def test_the_smallest_files_are_read_first_within_the_total(tmp_path, monkeypatch):
    monkeypatch.setattr(era, "MAX_TOTAL_BYTES", 1000)
    (tmp_path / "a_big.py").write_bytes(b"x = 1\n" * 160)             # 960 bytes: read last, past the total
    (tmp_path / "layers_1.py").write_bytes(PY2)
    files, _, skipped = era._sources(tmp_path)
    assert list(files) == ["layers_1.py"] and len(skipped) == 1 and "a_big.py" in skipped[0]


def test_a_submission_is_probed_once_per_content_and_mode(tmp_path, probes):
    (tmp_path / "layers_1.py").write_bytes(BOTH)
    first, second = era.decide(tmp_path), era.decide(tmp_path)
    assert probes == [("py2probe.py", "auto")]
    assert first.python == second.python == "3" and first.reason == second.reason
    second.files["changed"] = {}                        # a caller's copy: the kept answer stays as it was
    assert "changed" not in era.decide(tmp_path).files
    (tmp_path / "layers_1.py").write_bytes(PY2)         # other content: probed again
    assert era.decide(tmp_path).python == "2.7" and len(probes) == 2


def test_a_probe_that_failed_is_not_run_again_for_the_python2_rerun(tmp_path, monkeypatch, probes):
    (tmp_path / "layers_2.py").write_bytes(BOTH)
    monkeypatch.setattr(bounded, "run", lambda *args, **kwargs: (probes.append("run"), (None, "it took more than 60 s"))[1])
    decided = era.decide(tmp_path)
    assert "could not be examined" in decided.reason and decided.may_retry
    error = type("ChildError", (), {"exc_type": "TypeError", "file": "layers_2.py", "line": 2,
                                    "message": "'float' object cannot be interpreted as an integer"})()
    retried = decided.retry_as_python2(error)
    assert probes == ["run"] and retried.python == "3"       # the same files, the same failure: no second probe


def test_a_probe_cut_short_by_the_budget_is_tried_again_with_more_time(tmp_path, probes):
    (tmp_path / "layers_1.py").write_bytes(PY2)
    assert "no time was left" in era.decide(tmp_path, seconds=0).reason and probes == []
    assert era.decide(tmp_path, seconds=30).python == "2.7" and len(probes) == 1


def test_a_batch_folder_shares_the_answers_between_processes(tmp_path, monkeypatch, probes):
    package, cache = tmp_path / "package", tmp_path / "probes"
    package.mkdir()
    (package / "layers_1.py").write_bytes(PY2)
    era.use_cache(cache)
    decided = era.decide(package)
    assert len(list(cache.glob("*.json"))) == 1 and not list(cache.glob(".*.tmp"))
    era._MEMO.clear()                                    # another process: only the folder is shared
    monkeypatch.setattr(bounded, "run", lambda *args, **kwargs: pytest.fail("probed again"))
    again = era.decide(package)
    assert (again.python, again.files) == (decided.python, decided.files)


def test_the_probe_is_charged_to_the_submission_budget(tmp_path, monkeypatch):
    """A probe that took the whole budget leaves no time for the checks (before: not charged at all)."""
    from harness import runner
    from harness.context import build_context
    from harness.spec import load_spec, override_limits
    real = era.decide

    def slow(package_dir, mode="auto", seconds=None):
        decided = real(package_dir, mode, seconds)
        decided.probe_seconds += 30.0                    # as if the probe had taken 30 s of the 20 s budget
        return decided
    monkeypatch.setattr(era, "decide", slow)
    spec = load_spec("aics-exp2-1")
    submission = Path(__file__).resolve().parents[2] / "submissions" / "aics-exp2-1" / "correct"
    options = runner.RunOptions(only=("fc.forward",), limits=override_limits(spec.limits, {"submission_budget": "20"}))
    result = runner.check_submission(submission, spec, build_context(spec), options)
    forward = next(check for check in result.checks if check.id == "fc.forward")
    assert forward.status == "timeout" and "submission" in forward.message
    assert result.semantics["probe_seconds"] >= 30
