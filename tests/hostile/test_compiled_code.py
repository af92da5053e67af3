"""Compiled code is not run: Python imports a lone .pyc (or a native module) where the .py is missing, code
that nobody can read, compare for similarity or judge for loops (red team 2: a copied solution shipped only
as _impl.pyc scored 100/100 and was never compared)."""
from __future__ import annotations

import py_compile

from harness import api

from hostile_helpers import LAB, LIMITS, write_submission

USES_HELPER = """
from _impl import SCALE as _SCALE
_helper_forward = FullyConnectedLayer.forward
FullyConnectedLayer.forward = lambda self, input: _helper_forward(self, input) * _SCALE
"""


def _with_helper(tmp_path, name, compiled_only):
    submission = write_submission(tmp_path, name, USES_HELPER)
    upload = submission / "stu_upload"
    source = upload / "_impl.py"
    source.write_text("SCALE = 1.0\n")
    if compiled_only:
        py_compile.compile(str(source), cfile=str(upload / "_impl.pyc"), doraise=True)   # the legacy location
        source.unlink()
    return submission


def test_a_lone_pyc_is_not_imported_and_the_result_says_why(tmp_path):
    result = api.check(_with_helper(tmp_path, "compiled", True), LAB, only=["fc.forward"], limits=LIMITS)
    fc = next(check for check in result.checks if check.id == "fc.forward")
    assert fc.status == "error" and "_impl" in fc.message
    assert "_impl.pyc was not copied: it is compiled code" in result.json_text()


def test_the_same_helper_as_source_runs(tmp_path):
    result = api.check(_with_helper(tmp_path, "source", False), LAB, only=["fc.forward"], limits=LIMITS)
    assert next(check for check in result.checks if check.id == "fc.forward").status == "pass"


def test_a_python2_pyc_beside_its_source_is_skipped_without_a_word(tmp_path):
    submission = _with_helper(tmp_path, "stale", False)
    upload = submission / "stu_upload"
    py_compile.compile(str(upload / "_impl.py"), cfile=str(upload / "_impl.pyc"), doraise=True)
    result = api.check(submission, LAB, only=["fc.forward"], limits=LIMITS)
    assert next(check for check in result.checks if check.id == "fc.forward").status == "pass"
    assert "was not copied" not in result.json_text()
