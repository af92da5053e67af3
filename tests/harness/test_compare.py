"""The comparison: right answers pass in float32 and float64, wrong ones fail with useful figures."""
import numpy as np
import pytest

from harness.compare import compare_arrays, compare_exact, rel_error
from harness.spec import DEFAULT_TOLERANCE, Tolerance

TABLE = {dtype: Tolerance(**values) for dtype, values in DEFAULT_TOLERANCE.items()}


class Returned:
    def __init__(self, kind, type_name=""):
        self.kind, self.type_name = kind, type_name


@pytest.fixture
def conv_like():
    """A sum of 2304 products, like one output of the lab's 256-channel 3x3 convolution."""
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((64, 2304))
    weights = rng.standard_normal(2304) / 48
    return inputs, weights


def test_float32_implementation_passes(conv_like):
    inputs, weights = conv_like
    expected = inputs @ weights
    actual = (inputs.astype(np.float32) @ weights.astype(np.float32))   # a correct single-precision result
    assert compare_arrays("output", expected, actual, TABLE).ok


def test_float64_is_held_to_rounding(conv_like):
    inputs, weights = conv_like
    expected = inputs @ weights
    # an error float32 would be allowed is too much for float64
    assert not compare_arrays("output", expected, expected + 1e-6 * np.abs(expected).max(), TABLE).ok
    reordered = np.einsum("ij,j->i", inputs[:, ::-1], weights[::-1])   # another summation order
    assert compare_arrays("output", expected, reordered, TABLE).ok


def test_wrong_values_report_figures():
    expected = np.arange(12, dtype=np.float64).reshape(3, 4)
    actual = expected.copy()
    actual[2, 1] += 0.5
    result = compare_arrays("output", expected, actual, TABLE)
    assert result.problem == "values"
    assert result.metrics["mismatched"] == 1 and result.metrics["worst_index"] == [2, 1]
    assert result.metrics["max_abs_error"] == pytest.approx(0.5)
    assert result.metrics["max_rel_error"] == pytest.approx(rel_error(expected, actual))
    assert "1 of 12 values differ" in result.message and "(2, 1)" in result.message


def test_tiny_outputs_are_compared_relative_to_their_scale():
    expected = np.linspace(1, 2, 10) * 1e-12          # style-loss gradients are this small
    assert not compare_arrays("grad", expected, expected * 1.01, TABLE).ok
    assert compare_arrays("grad", expected, expected * (1 + 1e-12), TABLE).ok


def test_shape_mismatch():
    result = compare_arrays("output", np.zeros((1, 8, 22, 22)), np.zeros((1, 8, 20, 20)), TABLE)
    assert result.problem == "shape" and "(1, 8, 20, 20)" in result.message


def test_squeeze_policy_accepts_size_one_axes():
    expected = np.arange(4.0).reshape(1, 4)
    assert compare_arrays("d_bias", expected, np.arange(4.0), TABLE, shape_policy="squeeze").ok
    assert not compare_arrays("d_bias", expected, np.arange(4.0), TABLE).ok


def test_nonfinite_values_are_named():
    actual = np.array([1.0, np.nan, np.inf])
    result = compare_arrays("prob", np.ones(3), actual, TABLE)
    assert result.problem == "nonfinite" and "1 NaN and 1 infinite" in result.message


def test_non_arrays():
    assert "got None" in compare_arrays("output", np.ones(3), Returned("none"), TABLE).message
    assert "list" in compare_arrays("output", np.ones(3), Returned("unsupported", "list"), TABLE).message


def test_integer_output_for_float_expected():
    result = compare_arrays("output", np.ones(3), np.ones(3, dtype=np.int64), TABLE)
    assert result.problem == "dtype"


def test_mismatch_fraction_allows_isolated_differences():
    expected = np.zeros(1000)
    actual = expected.copy()
    actual[:2] = 1.0
    table = dict(TABLE, float64=Tolerance(1e-7, 1e-9, max_mismatch_fraction=0.002))
    assert compare_arrays("image", np.ones(1000) + expected, np.ones(1000) + actual, table).ok
    actual[:3] = 1.0
    assert not compare_arrays("image", np.ones(1000) + expected, np.ones(1000) + actual, table).ok


def test_exact():
    assert compare_exact("top1", np.asarray(281), np.asarray(281)).ok
    assert "expected 281, got 282" in compare_exact("top1", np.asarray(281), np.asarray(282)).message


def _two_errors():
    """Element 0 is off by 2.5 on a large value, element 3 by 0.05 on a tiny one: element 3 is the worst
    against its own tolerance, element 0 has the greatest absolute difference."""
    expected = np.array([1000.0, 1.0, 2.0, 3e-9, 5.0])
    actual = expected + np.array([2.5, 0.0, 0.0, 0.05, 0.0])
    return expected, actual


def test_message_names_the_worst_element_with_its_own_values():
    expected, actual = _two_errors()
    comparison = compare_arrays("out", expected, actual, TABLE)
    assert not comparison.ok
    assert "worst at index (3,): expected 3e-09, got 0.05" in comparison.message
    assert "greatest absolute difference 2.5" in comparison.message


def test_hidden_case_message_gives_no_values():
    expected, actual = _two_errors()
    comparison = compare_arrays("out", expected, actual, TABLE, reveal=False)
    assert not comparison.ok and "worst at index (3,)" in comparison.message
    for revealing in ("3e-09", "0.05", "1e+03", "1000", "got"):
        assert revealing not in comparison.message, revealing
    assert not {"worst_expected", "worst_actual", "scale"} & set(comparison.metrics)
