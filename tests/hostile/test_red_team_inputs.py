"""Inputs of the second red team that cost time outside any budget (era-probe-stall): Python 2 helper files too
large to translate quickly, and a failure that sends the submission back for a Python 2 re-run. The probe reads a
bounded amount, runs once per content, and is charged to the submission."""
from __future__ import annotations

import shutil
import time

from harness import api

from hostile_helpers import CORRECT, LAB

HELPER = "print 'x'\n" + "".join(f"def f{i}(a, b):\n    return map(lambda x: x + a, range(b)), dict(a=1).keys()\n"
                                 for i in range(20_000))         # 1.3 MB: fissix needs ~45 s for each
FLOAT_ERROR = '''

def _forward(self, input):
    raise TypeError("'float' object cannot be interpreted as an integer")


FullyConnectedLayer.forward = _forward
'''


def test_large_python2_helpers_and_a_python2_rerun_cost_the_probe_seconds_not_minutes(tmp_path):
    target = tmp_path / "stall"
    shutil.copytree(CORRECT, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "EXPECT*"))
    upload = target / "stu_upload"
    (upload / "mnist_mlp_cpu.py").unlink()               # its `//` is Python 3 evidence: no re-run without it
    (upload / "layers_1.py").write_text((upload / "layers_1.py").read_text() + FLOAT_ERROR)
    for index in range(2):
        (upload / f"helpers_{index}.py").write_text(HELPER)
    started = time.perf_counter()
    result = api.check(target, lab=LAB, only=["fc.forward"])
    assert time.perf_counter() - started < 30              # 121 s before: two probes stopped at 60 s each
    semantics = result.semantics
    assert semantics["python"] == "2.7" and "checked again with Python 2.7 semantics" in semantics["reason"]
    assert semantics["probe_seconds"] < 20
    assert sum("helpers_" in line and "not examined" in line for line in semantics["evidence"]) == 2
