"""Every way to fake a speedup that issue 9 found scores 0 on its speedup check; an honest layer in the
same run passes.

The fakes (tests/fixtures/speedup_paths/gamed) are complete layers: a memoised loop, loops that detect
timing through sys._getframe, inspect or the clock, a loop handed to a forked helper, a speedup path that
calls the raw one, a raw path inflated around a loop, raw paths that are vectorised (an alias in the class,
a rebinding at module level, a busy-wait, a patched numpy.asarray that forged the old line-count trace),
a loop with a thread that thrashes memory while the grader times the plain loop it is compared with.
One harness run times them all in one sandbox session, on a quarter of the spec's shapes (the verdicts do
not depend on the size: a loop is ~1x the plain loop, the thresholds 2x and 4x).
"""
from pathlib import Path

import pytest

from harness import api

import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "speedup_paths"))
import specs as fixture_specs  # noqa: E402

REQUIRED = "is required"                # the judged ratio is below the threshold
WRONG = "timed call"                    # a timed call returned a wrong result
NOT_LOOPS = "has no loop over output positions"
CALLS_RAW = "the speedup path calls forward_raw"
FORK_BLOCKED = "os.fork"

FAKES = {
    ("conv.speedup_forward", "ConvMemoised"): (REQUIRED,),
    ("conv.speedup_forward", "ConvMemoByShape"): (WRONG,),
    ("conv.speedup_forward", "ConvFrameDetect"): (WRONG, REQUIRED),
    ("conv.speedup_forward", "ConvInspectDetect"): (WRONG, REQUIRED),
    ("conv.speedup_forward", "ConvTimeDetect"): (WRONG, REQUIRED),
    ("conv.speedup_forward", "ConvForkedHelper"): (FORK_BLOCKED, REQUIRED),
    ("conv.speedup_forward", "ConvSpeedupCallsRaw"): (CALLS_RAW,),
    ("conv.speedup_forward", "ConvInflatedRaw"): (REQUIRED,),
    ("conv.speedup_forward", "ConvRawIsVectorised"): (NOT_LOOPS,),
    ("conv.speedup_forward", "ConvRawPatched"): (NOT_LOOPS,),
    ("conv.speedup_forward", "ConvBusyWaitRaw"): (NOT_LOOPS,),
    ("conv.speedup_forward", "ConvPatchedAsarray"): (NOT_LOOPS,),
    ("conv.speedup_forward", "ConvNoisyNeighbour"): (REQUIRED,),
    ("conv.speedup_backward", "ConvMemoised"): (REQUIRED,),
    ("pool.speedup_forward", "PoolMemoised"): (REQUIRED,),
    ("pool.speedup_backward", "PoolMemoised"): (REQUIRED,),
}
HONEST = ("conv.speedup_forward", "Conv")


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    # the honest layer first: a fake's leftover thread (ConvNoisyNeighbour) slows later checks of its session
    spec = fixture_specs.derive(tmp_path_factory.mktemp("gamed") / "spec.yaml", [HONEST, *FAKES],
                                shapes=fixture_specs.SMALL)
    result = api.check(fixture_specs.GAMED, str(spec))
    return {check.id: check for check in result.checks}


@pytest.mark.slow
@pytest.mark.parametrize("template, class_name", sorted(FAKES))
def test_faked_speedup_scores_zero(checks, template, class_name):
    check = checks[fixture_specs.check_id(template, class_name)]
    assert check.points == 0 and check.status in ("fail", "error"), (check.status, check.message, check.metrics)
    assert any(reason in check.message for reason in FAKES[template, class_name]), check.message
    if REQUIRED in check.message:       # a loop however disguised: about 1x the plain loop, the threshold 2x or 4x
        assert check.metrics["ratio"] < check.metrics["min_ratio"], check.metrics


@pytest.mark.slow
def test_what_the_course_would_print_is_reported_not_judged(checks):
    inflated = checks[fixture_specs.check_id("conv.speedup_forward", "ConvInflatedRaw")].metrics
    assert inflated["own_ratio"] > 10 and inflated["ratio"] < 2, inflated
    assert "overstates the speedup" in inflated["notes"]
    vectorised = checks[fixture_specs.check_id("conv.speedup_forward", "ConvRawIsVectorised")]
    assert "forward_raw = Conv.forward_speedup" in vectorised.message


@pytest.mark.slow
def test_an_honest_layer_in_the_same_run_passes(checks):
    check = checks[fixture_specs.check_id(*HONEST)]
    assert check.status == "pass", (check.message, check.metrics)
    metrics = check.metrics
    assert metrics["ratio"] >= 2 * metrics["min_ratio"] and metrics["judged_against"] == "the reference's plain loop"
    assert metrics["outputs_verified"] >= metrics["pairs"] and 3 <= metrics["pairs"] <= 9
    assert "certain after" in metrics["stopped"]
