"""A hidden case's inputs stay hidden: on that case the student sees a built-in exception's name, a plain file
name and line, and the grader's own words for what was running; nothing the child writes (the exception's
text, a class it names, a file name it compiles under, the source line linecache gives, attribute names,
refused paths) would otherwise land in the student's own report.html and result.json, the same on every run
with the same grader secret (red team 2)."""
from __future__ import annotations

import json
import re

import pytest

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
    assert "LEAK" not in text              # neither the exception's text nor the source line the child read
    hidden = [case for case in json.loads(result.json_text())["checks"][0]["cases"] if not case["public"]]
    assert hidden and all("ValueError: (the exception's text is withheld" in case["message"] for case in hidden)


LEAK_CHANNELS = """
_PUBLIC_ROWS = {public_rows}
_channel_honest_forward = FullyConnectedLayer.forward

def _digits(input):
    return "".join("%d" % (abs(int(v * 1e6)) % 10) for v in input.ravel()[:40])

def _leaky_forward(self, input):
    if input.shape[0] in _PUBLIC_ROWS:
        return _channel_honest_forward(self, input)
    secret = _digits(input)
    channel = {channel!r}
    if channel == "class":
        raise type("Leak" + secret, (Exception,), {{}})()
    if channel == "file":
        exec(compile("raise ValueError()", "L" + secret + ".py", "exec"))
    if channel == "linecache":
        import linecache
        path = __file__
        linecache.cache[path] = (1, None, ["LEAK" + secret + "\\n"] * 1000, path)
        raise ValueError()
    if channel == "attribute":
        return getattr(self, "d_weightL" + secret)
    if channel == "blocked":
        try:
            open("/LEAK" + secret).read()
        except Exception:
            pass
        raise ValueError()

FullyConnectedLayer.forward = _leaky_forward
"""


@pytest.mark.parametrize("channel", ["class", "file", "linecache", "attribute", "blocked"])
def test_no_child_written_text_carries_a_hidden_case_back(tmp_path, channel):
    spec = load_spec(LAB)
    check = next(check for check in spec.checks if check.id == "fc.forward")
    public_rows = {case.params["batch"] for case in check.cases if case.public}
    submission = write_submission(tmp_path, channel, LEAK_CHANNELS, public_rows=public_rows, channel=channel)
    result = api.check(submission, LAB, only=["fc.forward"], limits=LIMITS)
    hidden = [case for case in json.loads(result.json_text())["checks"][0]["cases"] if not case["public"]]
    assert hidden and all(case["status"] == "error" for case in hidden)
    for case in hidden:
        assert not re.search(r"[0-9]{12}", case["message"]), case["message"]
