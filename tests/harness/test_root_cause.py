"""Root causes: a failure explained by a failing check of code it runs points to that check, which is shown first.

End to end (the student's VGG19 asked which methods its layers use, in the sandbox) through the example
submissions whose entries in submissions/expected.yaml list root_causes (tests/submissions/test_verdicts.py).
"""
from __future__ import annotations

import numpy as np
import pytest

from harness.report.console import format_result
from harness.results import CheckResult, SubmissionResult
from harness.root_cause import attribute_root_causes, report_order, static_code
from harness.sandbox.reply import Reply
from harness.spec import load_spec


@pytest.fixture(scope="module")
def spec():
    return load_spec("aics-exp3-3")


def _results(spec, failing: dict) -> list[CheckResult]:
    """Every check of the spec, passing except ``failing`` (id -> status)."""
    return [CheckResult(check.id, check.title, failing.get(check.id, "pass"), 0.0, check.points,
                        message="wrong" if check.id in failing else "") for check in spec.checks]


class _Probe:
    """A session whose only program is the container probe: the layers are bound to ``methods``."""

    def __init__(self, methods: dict):
        self.methods, self.programs = methods, []

    def run(self, program, arrays, timeout=None, fresh=True):
        self.programs.append(program)
        bound = next(step["bound"] for step in program["steps"] if "bound" in step)
        rows = []
        for qualified, attributes in self.methods.items():
            rows.append([bound["classes"].index(qualified)] +
                        [bound["among"].index(name) if name in bound["among"] else -1 for name in attributes])
        return Reply(status="ok", values={"bound": np.asarray(rows, dtype=np.int64)})


def test_the_code_of_a_check_is_the_methods_it_computes_with(spec):
    check = next(check for check in spec.checks if check.id == "conv.backward_speedup")
    assert static_code(check) == {("layers_2", "ConvolutionalLayer", "forward_speedup"),
                                  ("layers_2", "ConvolutionalLayer", "backward_speedup")}
    gradcheck = next(check for check in spec.checks if check.id == "conv.backward_raw.gradcheck")
    assert static_code(gradcheck) == {("layers_2", "ConvolutionalLayer", "forward_raw"),
                                      ("layers_2", "ConvolutionalLayer", "backward_raw")}


def test_style_transfer_is_explained_by_the_speedup_check_of_the_methods_its_layers_use(spec):
    results = _results(spec, {"style_transfer.run": "fail", "conv.forward_speedup": "fail",
                              "conv.speedup_forward": "fail", "pool.backward_speedup": "fail"})
    probe = _Probe({"layers_2.ConvolutionalLayer": ("forward_speedup", "backward_speedup"),
                    "layers_2.MaxPoolingLayer": ("forward_speedup", "backward_speedup")})
    attribute_root_causes(results, spec, probe)
    by_id = {result.id: result for result in results}
    transfer = by_id["style_transfer.run"]
    assert transfer.root_cause == "conv.forward_speedup"       # the first in the spec's order; never a timing check
    assert "type=1" in transfer.diagnosis and "conv.forward_speedup" in transfer.diagnosis
    assert by_id["conv.speedup_forward"].root_cause is None or by_id["conv.speedup_forward"].root_cause != "style_transfer.run"
    ordered = [result.id for result in report_order(results)]
    assert ordered.index("conv.forward_speedup") == ordered.index("style_transfer.run") - 1
    assert len(probe.programs) == 1


def test_raw_layers_do_not_blame_the_speedup_paths(spec):
    results = _results(spec, {"style_transfer.run": "fail", "conv.forward_speedup": "fail"})
    probe = _Probe({"layers_2.ConvolutionalLayer": ("forward_raw", "backward_raw"),
                    "layers_2.MaxPoolingLayer": ("forward_raw", "backward_raw_book")})
    attribute_root_causes(results, spec, probe)
    assert all(result.root_cause is None for result in results)


def test_same_code_checked_earlier_explains_the_gradcheck_and_the_property(spec):
    results = _results(spec, {"pool.backward_raw": "error", "pool.backward_raw.gradcheck": "error",
                              "pool.backward_raw.property": "fail"})
    attribute_root_causes(results, spec)
    by_id = {result.id: result for result in results}
    assert by_id["pool.backward_raw"].root_cause is None
    assert by_id["pool.backward_raw.gradcheck"].root_cause == "pool.backward_raw"
    assert by_id["pool.backward_raw.property"].root_cause == "pool.backward_raw"
    assert "same code" in by_id["pool.backward_raw.gradcheck"].diagnosis


def test_a_probe_that_fails_explains_nothing(spec):
    class Broken:
        def run(self, *args, **kwargs):
            return Reply(status="error")
    results = _results(spec, {"style_transfer.run": "fail", "conv.forward_speedup": "fail"})
    attribute_root_causes(results, spec, Broken())
    assert all(result.root_cause is None for result in results)


def test_console_lists_the_root_cause_first(spec):
    results = _results(spec, {"style_transfer.run": "fail", "conv.forward_speedup": "fail"})
    results[[r.id for r in results].index("style_transfer.run")].root_cause = "conv.forward_speedup"
    text = format_result(SubmissionResult("aics-exp3-3", "x", results, 0, 100, None))
    assert text.index("conv.forward_speedup") < text.index("style_transfer.run")
