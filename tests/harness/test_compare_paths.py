"""Every comparison path, given hostile outputs: NaN, inf and low-precision dtypes never steer a verdict.

Each test builds a check's inputs and expected values from the spec and the reference, hands the kind's
compare (or the whole case, through a fake session) what a hostile or broken submission could return, and
requires a failure that names the problem. Paths: layer outputs (close), exact and unchanged outputs,
scalars (losses), parameter updates, Adam trajectories, the finite-difference gradcheck, VGG19 top-1 and
style transfer, and property checks.
"""
from __future__ import annotations

import numpy as np
import pytest

from harness.adapters import registry
from harness.results import CaseOutcome
from harness.sandbox.reply import Reply
from harness.spec import load_spec


@pytest.fixture(scope="module")
def specs():
    return {lab: load_spec(lab) for lab in ("aics-exp2-1", "aics-exp3-1", "aics-exp3-3")}


def _check(specs, lab, check_id):
    check = next(check for check in specs[lab].checks if check.id == check_id)
    return check, registry.get(check.kind)


def _prepared(specs, lab, check_id, case_index=0):
    check, kind = _check(specs, lab, check_id)
    case = check.cases[case_index]
    arrays = kind.make_inputs(check, case, None)
    return check, kind, case, arrays, kind.expected(check, case, arrays, None)


def _problems(comparisons):
    return {comparison.output or comparison.name: comparison.problem for comparison in comparisons if not comparison.ok}


def test_one_float16_output_does_not_loosen_the_others(specs):
    check, kind, case, arrays, expected = _prepared(specs, "aics-exp3-3", "conv.backward_raw")
    actual = dict(expected)
    actual["bottom_diff"] = expected["bottom_diff"].astype(np.float16)
    actual["d_weight"] = expected["d_weight"] * 1.009            # 0.9% wrong: passed at float16's tolerance
    comparisons = kind.compare(check, case, arrays, expected, actual)
    problems = _problems(comparisons)
    assert problems == {"bottom_diff": "dtype", "d_weight": "values"}
    assert "came back as float16" in next(c.message for c in comparisons if c.output == "bottom_diff")


def test_a_correct_float32_backward_passes_a_float64_check(specs):
    check, kind, case, arrays, expected = _prepared(specs, "aics-exp3-3", "conv.backward_raw")
    from reference.aics.layers_2 import conv_backward_raw
    p = case.params
    single = {name: value.astype(np.float32) for name, value in arrays.items()}
    dx, dweight, dbias = conv_backward_raw(single["dout"], single["x"], single["weight"], p["padding"], p["stride"])
    actual = {"bottom_diff": dx, "d_weight": dweight, "d_bias": dbias, "dout": arrays["dout"]}
    assert not _problems(kind.compare(check, case, arrays, expected, actual))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_any_layer_output_fails(specs, bad):
    check, kind, case, arrays, expected = _prepared(specs, "aics-exp3-3", "conv.backward_raw")
    actual = dict(expected)
    actual["d_bias"] = np.full_like(expected["d_bias"], bad)
    assert _problems(kind.compare(check, case, arrays, expected, actual)) == {"d_bias": "nonfinite"}


def test_unchanged_inputs_with_nan_are_not_called_unchanged(specs):
    check, kind, case, arrays, expected = _prepared(specs, "aics-exp3-3", "conv.forward_raw")
    actual = {"output": expected["output"], "x": np.full_like(arrays["x"], np.nan)}
    comparisons = kind.compare(check, case, arrays, expected, actual)
    assert _problems(comparisons) == {"x": "nonfinite"}


def test_a_parameter_update_is_not_loosened_by_a_float16_gradient_attribute(specs):
    check, kind, case, arrays, expected = _prepared(specs, "aics-exp2-1", "fc.update")
    actual = {"weight": expected["weight"] + 1e-3 * np.abs(expected["weight"]).max(), "bias": expected["bias"],
              "d_weight": np.zeros_like(arrays["weight"], dtype=np.float16)}
    assert _problems(kind.compare(check, case, arrays, expected, actual)) == {"weight": "values"}


@pytest.mark.parametrize("loss", [np.nan, np.inf, np.float16(0.25)])
def test_scalar_losses(specs, loss):
    check, kind, case, arrays, expected = _prepared(specs, "aics-exp3-3", "content_loss.forward")
    actual = {"loss": np.asarray(loss), "x": arrays["x"]}
    problems = _problems(kind.compare(check, case, arrays, expected, actual))
    assert problems == {"loss": "dtype" if isinstance(loss, np.float16) else "nonfinite"}


def test_an_adam_trajectory_with_nan_fails(specs):
    check, kind, case, arrays, expected = _prepared(specs, "aics-exp3-3", "adam.update")
    params = expected["params"].copy()
    params[-1] = np.nan
    assert _problems(kind.compare(check, case, arrays, expected, {"params": params})) == {"params": "nonfinite"}


def test_vgg_top1_from_a_nan_softmax_fails_and_says_nan(specs):
    check, kind = _check(specs, "aics-exp3-1", "vgg19.top1")
    case = check.cases[0]
    expected = {"top1": np.asarray(281)}
    softmax = np.full((1, 1000), np.nan)       # the kind passes the softmax on when it has no finite top-1
    comparisons = kind.compare(check, case, {"image": np.zeros((1, 3, 4, 4), np.float32)}, expected,
                               {"top1": softmax})
    assert _problems(comparisons) == {"top1": "nonfinite"} and "NaN" in comparisons[0].message


def test_style_transfer_cannot_be_moved_to_float16_tolerance(specs):
    check, kind = _check(specs, "aics-exp3-3", "style_transfer.run")
    case = check.cases[0]
    rng = np.random.default_rng(0)
    expected = {"losses": rng.uniform(1, 2, (3, 3)), "image": rng.standard_normal((1, 3, 4, 6))}
    inputs = {"content": np.zeros((1, 3, 4, 6)), "style": np.zeros((1, 3, 4, 6)), "initial": np.ones((1, 3, 4, 6))}
    actual = {"losses": expected["losses"] * 1.009, "image": expected["image"].astype(np.float16),
              "compute_dtype": np.dtype(np.float16)}
    assert _problems(kind.compare(check, case, inputs, expected, actual)) == {"losses": "values", "image": "dtype"}


# --- the finite-difference gradcheck ----------------------------------------------------------------------

def _gradcheck_actual(check, kind, case, arrays, gradient=None, forward=None):
    """What a submission returns to the pool gradcheck: the reference's forward and backward, or replacements."""
    from reference.layers import pool
    p = case.params
    forward = forward or (lambda x: pool.maxpool2d_forward(x, p["kernel"], p["stride"]))
    step = 1e-6
    perturbed = kind._perturbed_inputs(arrays, step, check.options.get("directions", 3))
    actual = {name: forward(perturbed["arrays"][x_name]) for name, (x_name, _) in perturbed["calls"].items()}
    actual["output"] = forward(arrays["x"])
    actual["bottom_diff"] = gradient if gradient is not None else \
        pool.maxpool2d_backward(arrays["dout"], arrays["x"], p["kernel"], p["stride"])
    return {**actual, "step": step, "dtype": "float64"}


@pytest.fixture(scope="module")
def pool_gradcheck(specs):
    check, kind = _check(specs, "aics-exp3-3", "pool.backward_raw.gradcheck")
    case = check.cases[0]
    return check, kind, case, kind.make_inputs(check, case, None)


def test_gradcheck_accepts_a_true_gradient(pool_gradcheck):
    check, kind, case, arrays = pool_gradcheck
    comparisons = kind.compare(check, case, arrays, {}, _gradcheck_actual(check, kind, case, arrays))
    assert comparisons[0].ok and comparisons[0].metrics["max_rel_error"] < 1e-6


@pytest.mark.parametrize("gradient", ["nan", "inf", "float16"])
def test_gradcheck_rejects_unusable_gradients(pool_gradcheck, gradient):
    check, kind, case, arrays = pool_gradcheck
    shape = arrays["x"].shape
    value = {"nan": np.full(shape, np.nan), "inf": np.full(shape, np.inf),
             "float16": np.zeros(shape, dtype=np.float16)}[gradient]
    comparison = kind.compare(check, case, arrays, {}, _gradcheck_actual(check, kind, case, arrays, gradient=value))[0]
    assert not comparison.ok
    assert comparison.problem == ("dtype" if gradient == "float16" else "nonfinite")
    assert "rel err 0" not in comparison.message


def test_gradcheck_rejects_a_forward_that_returns_nan(pool_gradcheck):
    check, kind, case, arrays = pool_gradcheck
    actual = _gradcheck_actual(check, kind, case, arrays, forward=lambda x: np.full((2, 2, 3, 3), np.nan))
    comparison = kind.compare(check, case, arrays, {}, actual)[0]
    assert comparison.problem == "nonfinite" and "forward output" in comparison.message


def test_gradcheck_step_and_tolerance_follow_the_inputs_not_a_float16_reply(pool_gradcheck):
    check, kind, case, arrays = pool_gradcheck
    session = _FakeSession(lambda program, sent: {name: np.zeros((2, 2, 3, 3), np.float16)
                                                  for name in program["outputs"]})
    execution = kind.execute(session, check, case, arrays, None)
    assert execution.values["dtype"] == "float32" and execution.values["step"] == 1e-2


# --- whole cases and property checks, through a fake session ------------------------------------------------

class _FakeSession:
    """Answers every program with ``respond(program, arrays)`` as the child's values."""

    def __init__(self, respond):
        self.respond = respond
        self.programs = []

    def run(self, program, arrays, timeout=None, fresh=True):
        self.programs.append(program)
        return Reply(status="ok", values=self.respond(program, arrays))


def test_a_property_check_fails_an_all_nan_backward(specs):
    from harness.context import LabContext, RunContext
    from harness.runner import run_check
    check, kind = _check(specs, "aics-exp3-3", "pool.backward_raw.property")
    session = _FakeSession(lambda program, sent: {"bottom_diff": np.full_like(sent["x"], np.nan),
                                                  "dout": sent["dout"]})
    result = run_check(check, session, RunContext(LabContext(specs["aics-exp3-3"])))
    assert result.status == "fail" and "NaN" in result.message
    assert result.counterexample is not None
    assert isinstance(result.cases[0], CaseOutcome)
