"""Ways to fake a speedup ratio, each applied to a correct submission, must not earn the speedup check.

The course driver divides the time of one "raw" call by one "speedup" call. A student can make that
number large without writing a faster layer: make the raw path the vectorised one under the raw name,
let the speedup path call the raw one, or slow the raw path down on purpose. The harness traces the
raw path's Python lines, watches the speedup path for calls of the raw method, and judges the ratio
against a raw time capped at a multiple of the reference's plain loop.
"""
import shutil
import textwrap
from pathlib import Path

import pytest

from harness import api

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "submissions" / "aics-exp3-3" / "correct-vectorized"
CHECK = "conv.speedup_forward"

PATCHES = {
    # the raw name runs the vectorised code: one call, a handful of lines, ratio about 1
    "raw_is_vectorised": ("""
        ConvolutionalLayer.forward_raw = ConvolutionalLayer.forward_speedup
        """, "executed only"),
    # the "fast" path is the loop: it calls forward_raw
    "speedup_calls_raw": ("""
        def _speedup_by_raw(self, input):
            return self.forward_raw(input)
        ConvolutionalLayer.forward_speedup = _speedup_by_raw
        """, "calls forward_raw"),
    # an honest loop as the "speedup", and a raw path that repeats that loop 30 times: the measured
    # ratio (~30x) clears the required 20x, the judged one (raw capped at 5x the reference's plain
    # loop, so about 5x) cannot
    "raw_slowed_down": ("""
        _plain_loop = ConvolutionalLayer.forward_raw
        def _inflated_raw(self, input):
            for _ in range(30):
                output = _plain_loop(self, input)
            return output
        ConvolutionalLayer.forward_raw = _inflated_raw
        ConvolutionalLayer.forward_speedup = _plain_loop
        """, "below the required"),
}


def _patched_submission(tmp_path: Path, patch: str) -> Path:
    submission = tmp_path / "submission"
    shutil.copytree(CORRECT, submission)
    layers = submission / "stu_upload" / "layers_2.py"
    layers.write_text(layers.read_text() + "\n" + textwrap.dedent(patch))
    return submission


def _spec_with_three_pairs(tmp_path: Path) -> Path:
    """The lab's spec with the timing check cut to 3 pairs (the default 9 makes the inflated raw path
    of raw_slowed_down take half a minute; three pairs show the same)."""
    text = (ROOT / "specs" / "aics-exp3-3.yaml").read_text()
    marker = "options: {layer: conv, stage: forward, min_ratio: 20,"
    assert text.count(marker) == 1
    spec = tmp_path / "specs" / "aics-exp3-3.yaml"
    spec.parent.mkdir()
    spec.write_text(text.replace(marker, "options: {layer: conv, stage: forward, pairs: 3, min_ratio: 20,"))
    return spec


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PATCHES))
def test_faked_speedup_is_not_rewarded(name, tmp_path):
    patch, expected_message = PATCHES[name]
    result = api.check(_patched_submission(tmp_path, patch), str(_spec_with_three_pairs(tmp_path)), only=[CHECK])
    check = next(check for check in result.checks if check.id == CHECK)
    assert check.status == "fail", (check.status, check.message, check.metrics)
    assert expected_message in check.message, check.message
    assert check.points == 0 and check.metrics["pairs"] == 3
    if name == "raw_slowed_down":       # the cap, not a slow measurement, is what failed it
        metrics = check.metrics
        assert "plain loop" in metrics.get("notes", ""), metrics
        assert metrics["judged_ratio"] < 20 < metrics["ratio"], metrics


@pytest.mark.slow
def test_honest_speedup_passes_with_calibrated_metrics():
    result = api.check(CORRECT, "aics-exp3-3", only=[CHECK])
    check = next(check for check in result.checks if check.id == CHECK)
    assert check.status == "pass", (check.message, check.metrics)
    for key in ("ratio", "ratio_spread", "reference_ratio", "threads"):
        assert key in check.metrics, key
    assert check.metrics["ratio"] >= 20 and check.metrics["reference_ratio"] > 1
