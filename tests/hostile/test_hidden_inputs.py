"""A hidden case's inputs stay hidden: code that writes them into an exception's text gets its type, file and
line reported on that case, never the text (it would land in the student's own report.html and result.json,
the same on every run with the same grader secret)."""
from __future__ import annotations

import json

from harness import api
from harness.report.html import render_html
from harness.spec import load_spec

from hostile_helpers import LAB, LIMITS, write_submission

LEAK = """
_PUBLIC_ROWS = {public_rows}
_leak_honest_forward = FullyConnectedLayer.forward

def _leaky_forward(self, input):
    if input.shape[0] not in _PUBLIC_ROWS:
        raise ValueError("LEAK " + repr(input.tolist()) + repr(self.weight.tolist()))
    return _leak_honest_forward(self, input)

FullyConnectedLayer.forward = _leaky_forward
"""


def test_exception_text_of_a_hidden_case_is_withheld(tmp_path):
    spec = load_spec(LAB)
    check = next(check for check in spec.checks if check.id == "fc.forward")
    public_rows = {case.params["batch"] for case in check.cases if case.public}
    assert public_rows and any(not case.public for case in check.cases)
    submission = write_submission(tmp_path, "leaky", LEAK, public_rows=public_rows)
    result = api.check(submission, LAB, only=["fc.forward"], limits=LIMITS)
    fc = next(item for item in result.checks if item.id == "fc.forward")
    assert fc.status == "error"
    text = result.json_text() + render_html(result, spec.tiers)
    assert "LEAK [[" not in text and "LEAK" in text                # the source line, not the exception's text
    hidden = [case for case in json.loads(result.json_text())["checks"][0]["cases"] if not case["public"]]
    assert hidden and all("ValueError: (the exception's text is withheld" in case["message"] for case in hidden)
