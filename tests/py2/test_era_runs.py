"""Python 2.7-era submissions graded through the sandbox, with the semantics recorded in the result.

A few cheap checks per run (the full field kinds grade 100 in about a minute each; see the README).
"""
from __future__ import annotations

import json

import pytest

from harness.context import build_context
from harness.report.console import format_result
from harness.runner import RunOptions, check_submission
from harness.spec import load_spec

from py2_helpers import ROOT, make_python2_submission

CHECKS = ("conv.forward_raw", "pool.forward_raw", "style_loss.forward", "adam.update")
CORRECT = ROOT / "submissions" / "aics-exp3-3" / "correct-plain"


@pytest.fixture(scope="module")
def lab():
    spec = load_spec("aics-exp3-3")
    return spec, build_context(spec)


def _check(lab, path, python="auto", only=CHECKS):
    spec, context = lab
    return check_submission(path, spec, context, RunOptions(only=only, python=python))


def _passed(result) -> set[str]:
    return {check.id for check in result.checks if check.status == "pass"}


def test_python2_era_submission_passes_with_python2_semantics_recorded(lab, tmp_path):
    root = make_python2_submission(CORRECT, tmp_path / "exp", {"layers_2.py": [(
        "class MaxPoolingLayer(object):\n",
        "class MaxPoolingLayer(object):\n    shapes = map(int, ['2', '2'])  # a list in Python 2\n"
        "    first = shapes[0]\n")]})
    layers_1 = root / "stu_upload" / "layers_1.py"        # saved by a Chinese Windows editor, no declaration
    layers_1.write_bytes(("# 全连接层\n" + layers_1.read_text(encoding="utf-8").replace("coding: utf-8", "")).encode("gbk"))
    result = _check(lab, root)
    assert _passed(result) == set(CHECKS)
    assert result.semantics["python"] == "2.7" and result.semantics["division"] == "classic"
    assert "print statement" in result.semantics["reason"]
    assert any("layers_1.py" in item and "read as GBK" in item for item in result.semantics["evidence"])
    assert json.loads(json.dumps(result.to_json()))["semantics"]["python"] == "2.7"
    assert "note: run with Python 2.7 semantics (classic division)" in format_result(result)
    forced = _check(lab, root, python="3", only=("conv.forward_raw",))
    assert forced.semantics["python"] == "3" and _passed(forced) == set()


def test_python3_submission_stays_python3(lab):
    result = _check(lab, CORRECT, only=("conv.forward_raw",))
    assert _passed(result) == {"conv.forward_raw"}
    assert result.semantics["python"] == "3" and result.semantics["division"] == "true"
    assert "Python 2.7" not in format_result(result)


def test_float_where_int_error_without_python3_evidence_is_checked_again_as_python2(lab, tmp_path):
    root = tmp_path / "exp"
    (root / "stu_upload").mkdir(parents=True)
    for source in (CORRECT / "stu_upload").glob("*.py"):
        (root / "stu_upload" / source.name).write_text(source.read_text().replace(" // ", " / "))
    result = _check(lab, root, only=("conv.forward_raw", "pool.forward_raw"))
    assert _passed(result) == {"conv.forward_raw", "pool.forward_raw"}
    assert result.semantics["python"] == "2.7"
    assert result.semantics["reason"].startswith("the Python 3 run failed in layers_2.py:")
    assert "cannot be interpreted as an integer" in result.semantics["evidence"][0]


def test_python3_evidence_keeps_true_division_when_the_same_error_happens(lab, tmp_path):
    root = tmp_path / "exp"
    (root / "stu_upload").mkdir(parents=True)
    for source in (CORRECT / "stu_upload").glob("*.py"):
        text = source.read_text().replace(" // ", " / ")
        if source.name == "layers_2.py":
            text += "\n\ndef describe(layer):\n    return f'{layer.kernel_size}'\n"
        (root / "stu_upload" / source.name).write_text(text)
    result = _check(lab, root, only=("conv.forward_raw",))
    assert _passed(result) == set()
    assert result.semantics["python"] == "3" and "f-string" in result.semantics["reason"]


def test_python3_code_keeping_cs231ns_future_print_function_keeps_true_division(lab, tmp_path):
    """`from __future__ import print_function` alone is no evidence of Python 2: Python 3 students of
    2018-2020 kept the line, and classic division would make their `1 / (2 * n)` zero."""
    root = tmp_path / "exp"
    (root / "stu_upload").mkdir(parents=True)
    for source in (CORRECT / "stu_upload").glob("*.py"):
        text = source.read_text()
        if source.name == "layers_3.py":
            text = "from __future__ import print_function\n" + text.replace(
                "loss = np.sum(np.square(input_layer - content_layer)) / (2.0 * input_layer.size)",
                "scale = 1 / (2 * input_layer.size)\n        loss = np.sum(np.square(input_layer - content_layer)) * scale")
            assert "scale = 1 / (2 * input_layer.size)" in text
        (root / "stu_upload" / source.name).write_text(text)
    result = _check(lab, root, only=("content_loss.forward",))
    assert _passed(result) == {"content_loss.forward"}
    assert result.semantics["python"] == "3" and result.semantics["division"] == "true"
    assert "no evidence of Python 2" in result.semantics["reason"]
