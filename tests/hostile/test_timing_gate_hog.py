"""A submission that stalls while a batch's timing gate is held stops its own check, not every other worker:
the raw path (whose time is only reported) runs before the gate is taken, and each request made under the
gate is cut at hold_max seconds (harness.adapters.aics_timing). Red team 2 held the gate 600 s this way."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from harness.context import build_context
from harness.runner import RunOptions, check_submission
from harness.selection import select_checks
from harness.spec import load_spec
from harness.timing_gate import LockFileGate

REPOSITORY = Path(__file__).resolve().parents[2]
CORRECT = REPOSITORY / "submissions" / "aics-exp3-3" / "correct-vectorized"
HOG = '''

# ---- appended by tests/hostile: sleep in the raw path, and in the speedup path once it is timed ----
import time as _time
_calls = []
_honest_speedup, _honest_raw = ConvolutionalLayer.forward_speedup, ConvolutionalLayer.forward_raw

def _stalling_speedup(self, input):
    if tuple(input.shape) == (1, 64, 12, 20):      # the speedup check's timing shape
        _calls.append(1)
        if len(_calls) > 3:               # the warm-up and the estimate (1 + 2 calls) are taken before the gate
            _time.sleep(120)
    return _honest_speedup(self, input)

def _stalling_raw(self, input):
    if tuple(input.shape) == (1, 64, 12, 20):
        _time.sleep({raw_sleep})
    return _honest_raw(self, input)

ConvolutionalLayer.forward_speedup = _stalling_speedup
ConvolutionalLayer.forward_raw = _stalling_raw
'''


def test_a_stall_under_the_batch_timing_gate_costs_only_its_own_check(tmp_path):
    submission = tmp_path / "hog"
    shutil.copytree(CORRECT, submission)
    layers = next(submission.rglob("layers_2.py"))
    layers.write_text(layers.read_text() + HOG.replace("{raw_sleep}", "3"))
    spec = load_spec("aics-exp3-3")
    gate = LockFileGate(tmp_path / ".timing.lock")
    held = []
    original = gate.measuring

    def timed_measuring(*args, **kwargs):        # how long the gate is held, as another worker would wait
        class Held:
            def __enter__(self):
                self.context = original(*args, **kwargs)
                value = self.context.__enter__()
                self.started = time.monotonic()
                return value

            def __exit__(self, *exc):
                held.append(time.monotonic() - self.started)
                return self.context.__exit__(*exc)
        return Held()

    gate.measuring = timed_measuring
    result = check_submission(submission, spec, build_context(spec),
                              RunOptions(only=select_checks(spec, ["conv.speedup_forward"]), timing_gate=gate))
    check = next(check for check in result.checks if check.id == "conv.speedup_forward")
    assert check.status in ("timeout", "error") and "timing lock" in check.message, check.message
    assert held and max(held) < 20          # hold_max (10 s) and the plain loop, not the 120 s sleep
    assert sum(held) < 20                   # the raw path's 3 s sleep was spent outside the gate
