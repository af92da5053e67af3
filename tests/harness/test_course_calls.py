"""Student code is called the way the course's driver calls it (issue 8, item 3).

Each variant starts from the correct example submission and changes one thing the way real submissions do:
a raw or speedup method renamed but still bound by the constructor's ``type`` switch, a backward that
consumes what its forward recorded, errors raised deep inside a method. Only the checks concerned are run,
in the real sandbox, one session per variant.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.context import build_context
from harness.runner import RunOptions, check_submission
from harness.spec import load_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "submissions" / "aics-exp3-3" / "correct-plain"
POOL_RAW = ("pool.forward_raw", "pool.backward_raw", "pool.backward_raw.property", "pool.backward_raw.gradcheck")


@pytest.fixture(scope="module")
def lab():
    spec = load_spec("aics-exp3-3")
    return spec, build_context(spec)


def _variant(root: Path, name: str, *replacements) -> Path:
    target = root / name
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "EXPECT*"))
    path = target / "stu_upload" / "layers_2.py"
    text = path.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return target


def _grade(lab, path: Path, only) -> dict:
    spec, context = lab
    result = check_submission(path, spec, context, RunOptions(only=tuple(only)))
    return {check.id: check for check in result.checks if check.id in only}


@pytest.fixture(scope="module")
def renamed_pool_backward(lab, tmp_path_factory):
    path = _variant(tmp_path_factory.mktemp("calls"), "renamed", ("backward_raw_book", "backward_raw"))
    return _grade(lab, path, POOL_RAW)


def test_a_renamed_raw_backward_is_checked_through_the_courses_dispatch(renamed_pool_backward):
    note = ("backward_raw_book is missing; checked through MaxPoolingLayer.backward with type 0, as the "
            "course's driver calls it")
    for check_id in ("pool.backward_raw", "pool.backward_raw.gradcheck", "pool.backward_raw.property"):
        check = renamed_pool_backward[check_id]
        assert check.status == "pass", (check_id, check.message)
        assert check.notes == [note], check_id
    assert renamed_pool_backward["pool.forward_raw"].notes == []


def test_a_renamed_speedup_path_is_reached_with_type_1(lab, tmp_path_factory):
    path = _variant(tmp_path_factory.mktemp("calls"), "fast", ("forward_speedup", "forward_fast"))
    check = _grade(lab, path, ("conv.forward_speedup",))["conv.forward_speedup"]
    assert check.status == "pass", check.message
    assert check.notes == ["forward_speedup is missing; checked through ConvolutionalLayer.forward with type=1, "
                           "as the course's driver calls it"]


def test_without_the_courses_binding_the_missing_method_is_reported_as_missing(lab, tmp_path_factory):
    path = _variant(tmp_path_factory.mktemp("calls"), "unbound", ("backward_raw_book", "backward_raw"),
                    ("        self.backward = self.backward_raw\n        if type == 1", "        if type == 1"))
    check = _grade(lab, path, ("pool.forward_raw", "pool.backward_raw"))["pool.backward_raw"]
    assert check.status == "error" and check.notes == []
    assert "no attribute 'backward_raw_book' (while calling MaxPoolingLayer.backward_raw_book)" in check.message
    assert "forward_raw)" not in check.message          # never the step that ran before
    assert "did you mean 'backward_raw'" in check.message


def test_a_backward_that_consumes_what_its_forward_recorded_is_correct(lab, tmp_path_factory):
    path = _variant(tmp_path_factory.mktemp("calls"), "stateful", (
        "    def backward_raw_book(self, top_diff):\n        bottom_diff = np.zeros(self.input.shape)\n",
        "    def backward_raw_book(self, top_diff):\n        recorded = self.max_index  # set by forward_raw\n"
        "        del self.max_index\n        bottom_diff = np.zeros(recorded.shape)\n"))
    checks = _grade(lab, path, POOL_RAW)
    assert {check_id: check.status for check_id, check in checks.items()} == dict.fromkeys(POOL_RAW, "pass"), \
        {check_id: check.message for check_id, check in checks.items()}


def test_an_error_names_the_function_that_was_running_and_the_step(lab, tmp_path_factory):
    path = _variant(tmp_path_factory.mktemp("calls"), "raises", (
        "    def backward_raw(self, top_diff):\n",
        "    def backward_raw(self, top_diff):\n        self.check_shapes(top_diff)\n\n"
        "    def check_shapes(self, top_diff):\n        raise ValueError('top_diff does not match')\n\n"
        "    def unused(self, top_diff):\n"))
    check = _grade(lab, path, ("conv.forward_raw", "conv.backward_raw"))["conv.backward_raw"]
    assert check.status == "error"
    assert ("ValueError: top_diff does not match (while calling ConvolutionalLayer.backward_raw, in "
            "ConvolutionalLayer.check_shapes)") in check.message


def test_a_conv_backward_that_ignores_the_stride_is_told_so(lab, tmp_path_factory):
    loops = ("                        hs = idxh * self.stride\n                        ws = idxw * self.stride\n"
             "                        self.d_weight")
    path = _variant(tmp_path_factory.mktemp("calls"), "stride", (loops, loops.replace(" * self.stride", "")))
    check = _grade(lab, path, ("conv.forward_raw", "conv.backward_raw"))["conv.backward_raw"]
    assert check.status == "fail"
    assert check.diagnosis.startswith("your backward ignores the stride"), check.diagnosis


class _Recorder:
    """Records the programs a kind sends; answers each with no values (the kinds then fail or go on)."""

    def __init__(self):
        self.programs = []

    def run(self, program, arrays, timeout=None, fresh=True):
        from harness.sandbox.reply import Reply
        self.programs.append(program)
        return Reply(status="ok", values={})


def _layer_calls(program) -> list[str]:
    return [step["call"][len("layer."):] for step in program["steps"] if step.get("call", "").startswith("layer.")]


def _violation(calls: list, forward: str, backward: str) -> str:
    """How a sequence of calls on one layer breaks "one forward, then one backward", or ""."""
    pending = 0
    for name in calls:
        if name == forward:
            pending += 1
        elif name == backward:
            if pending == 0:
                return "a backward without a forward of its own"
            if pending > 1:
                return "two forwards before a backward"
            pending = 0
    return ""


def test_the_rule_is_checkable():
    assert _violation(["forward_raw", "backward_raw", "backward_raw"], "forward_raw", "backward_raw")
    assert _violation(["forward_raw", "forward_raw", "backward_raw"], "forward_raw", "backward_raw")
    assert not _violation(["forward_raw", "backward_raw", "forward_raw", "backward_raw"], "forward_raw", "backward_raw")
    assert not _violation(["forward_raw"] * 6, "forward_raw", "backward_raw")     # perturbed forwards only


@pytest.mark.parametrize("lab_name", ["aics-exp2-1", "aics-exp3-3"])
def test_every_backward_follows_a_forward_of_its_own(lab_name):
    """No program of a (non-timing) layer kind calls backward twice after one forward, or forward twice before
    a backward: a layer may consume in backward what its forward recorded, as the course's layers do."""
    from harness.adapters import registry
    from harness.root_cause import SPEED_KINDS
    spec = load_spec(lab_name)
    seen = 0
    for check in spec.checks:
        kind = registry.get(check.kind)
        namer = kind.wrapped(check) if hasattr(kind, "wrapped") else kind
        if check.kind in SPEED_KINDS or not hasattr(namer, "build") or not check.cases:
            continue
        forward, backward = namer.method(check, "forward"), namer.method(check, "backward")
        for case in check.cases:
            recorder = _Recorder()
            try:
                kind.execute(recorder, check, case, kind.make_inputs(check, case, None), None)
            except Exception:           # the recorder's empty replies may stop a kind midway: what it sent counts
                pass
            for program in recorder.programs:
                calls = _layer_calls(program)
                assert not _violation(calls, forward, backward), (check.id, _violation(calls, forward, backward), calls)
                seen += calls.count(backward)
    assert seen, "no backward call was seen: the test looked at nothing"
