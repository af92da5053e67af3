"""Genuine speedup paths pass their speedup checks, judged against the course's plain loop.

tests/fixtures/speedup_paths/genuine holds every kind students write; benchmarks/bench_speedup_paths.py
measures them all on the spec's shapes. Here, on a quarter of those shapes, the ones nearest the threshold
or that the old protocol failed: sliding_window_view + einsum without optimize (loop-free, failed the old
fixed 20x) and per-channel loops (the slowest kind); and, on the spec's shape, a vectorised path that is
too slow, whose message says why. Also the field kinds whose backward consumes
what its forward recorded (each timed backward gets its own forward) or whose raw backward was renamed,
a student kit's judgement against the student's own raw path, and a batch's timing gate.
"""
import subprocess
import sys
from pathlib import Path

import pytest

from harness import api
from harness.runner import RunOptions, check_submission
from harness.timing_gate import LockFileGate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "speedup_paths"))
import specs as fixture_specs  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIELD_KINDS = ROOT.parent / "shared" / "field-kinds" / "make_cases.py"
GENUINE = [("conv.speedup_forward", "ConvEinsum"), ("conv.speedup_backward", "ConvEinsum"),
           ("conv.speedup_forward", "ConvPerChannel"), ("conv.speedup_backward", "ConvPerChannel"),
           ("pool.speedup_forward", "PoolPerChannel")]
SLOW = ("conv.speedup_forward", "ConvBroadcastPerChannel")


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    return LockFileGate(tmp_path_factory.mktemp("batch") / ".timing.lock")


@pytest.fixture(scope="module")
def checks(tmp_path_factory, gate):
    """One run of the genuine paths under a batch's timing gate."""
    from harness.context import build_context
    from harness.spec import load_spec
    spec = load_spec(fixture_specs.derive(tmp_path_factory.mktemp("genuine") / "spec.yaml", GENUINE,
                                          shapes=fixture_specs.SMALL))
    result = check_submission(fixture_specs.GENUINE, spec, build_context(spec), RunOptions(timing_gate=gate))
    return {check.id: check for check in result.checks}


@pytest.mark.slow
@pytest.mark.parametrize("template, class_name", GENUINE)
def test_genuine_speedup_paths_pass(checks, template, class_name):
    check = checks[fixture_specs.check_id(template, class_name)]
    assert check.status == "pass", (check.message, check.metrics)
    metrics = check.metrics
    assert metrics["ratio"] >= 1.5 * metrics["min_ratio"], metrics      # not a near miss
    assert metrics["outputs_verified"] >= metrics["pairs"] >= 3


@pytest.mark.slow
def test_a_vectorised_path_that_is_too_slow_is_told_why(tmp_path):
    """1.3x the plain loop on the spec's shape: a 6-d broadcast temporary per output channel."""
    check = api.check(fixture_specs.GENUINE, str(fixture_specs.derive(tmp_path / "spec.yaml", [SLOW]))).checks[0]
    assert check.status == "fail" and "is required" in check.message, check.message
    assert "Why it may be slow" in check.message and "BLAS" in check.message, check.message


@pytest.mark.slow
def test_timing_under_a_gate_is_pinned_to_its_cpu(checks, gate):
    metrics = checks[fixture_specs.check_id(*GENUINE[0])].metrics
    assert metrics["pinned_cpu"] in (gate.cpu, None)        # None: this sandbox cannot pin its child
    assert metrics["gate_wait_seconds"] >= 0


@pytest.fixture(scope="module")
def field_kinds(tmp_path_factory):
    if not FIELD_KINDS.is_file():
        pytest.skip("the field kinds (../shared/field-kinds) are not beside the repository")
    out = tmp_path_factory.mktemp("field-kinds")
    subprocess.run([sys.executable, str(FIELD_KINDS), str(out)], cwd=ROOT, check=True, capture_output=True)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["stateful-pool-backward", "renamed-pool-backward"])
def test_pool_backward_field_kinds_pass_their_speedup_check(field_kinds, kind, tmp_path):
    """A raw backward that consumes what its forward recorded (del self.max_index) is right as the course
    calls it: every timed backward gets its own forward. A renamed backward_raw_book is timed through
    the layer's bound backward, as the course's driver calls it, with a note. Spec shape, spec threshold."""
    spec = fixture_specs.derive(tmp_path / "spec.yaml", [("pool.speedup_backward", "MaxPoolingLayer")])
    check = api.check(field_kinds / kind, str(spec)).checks[0]
    assert check.status == "pass", (check.message, check.metrics)
    if kind == "renamed-pool-backward":
        assert any("backward_raw_book is missing" in note for note in check.notes), check.notes


@pytest.mark.slow
def test_a_student_kit_judges_against_the_students_raw_path(tmp_path):
    spec = fixture_specs.derive(tmp_path / "spec.yaml", [("pool.speedup_forward", "PoolReshape")],
                                options={"calibrate": False}, shapes=fixture_specs.SMALL)
    check = api.check(fixture_specs.GENUINE, str(spec)).checks[0]
    assert check.status == "pass", (check.message, check.metrics)
    assert check.metrics["judged_against"] == "your raw path" and "no reference here" in check.metrics["notes"]
