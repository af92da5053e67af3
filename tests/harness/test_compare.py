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


# --- outputs a submission could use to steer the comparison (issue 9) ---------------------------------------

def test_a_float16_output_of_a_float64_check_fails_as_such():
    expected = np.linspace(1, 2, 12)
    result = compare_arrays("d_weight", expected, expected.astype(np.float16), TABLE, input_dtype=np.float64)
    assert result.problem == "dtype" and "came back as float16" in result.message and "float64" in result.message


def test_float16_is_accepted_only_when_the_inputs_were_float16():
    expected = np.linspace(1, 2, 12)
    assert compare_arrays("out", expected, expected.astype(np.float16), TABLE, input_dtype=np.float16).ok


def test_the_tolerance_never_drops_below_float32_whatever_the_submission_returned():
    expected = np.linspace(1, 2, 12)
    wrong = expected * 1.009                       # 0.9% off: inside float16's tolerance, far outside float32's
    for shown in (np.float16, np.float32, None):
        result = compare_arrays("d_weight", expected, wrong, TABLE, input_dtype=np.float64, shown_dtype=shown)
        assert result.problem == "values", shown
    # a single-precision submission is judged at float32: its rounding passes, a 1e-3 error does not
    single = expected.astype(np.float32)
    assert compare_arrays("out", expected, single, TABLE, input_dtype=np.float64).ok
    assert compare_arrays("out", expected, single * np.float32(1.001), TABLE, input_dtype=np.float64).problem == "values"
    # a float64 output of a float64 check is held to float64 even when something else came back as float32
    close_for_float32 = expected * (1 + 1e-6)
    assert not compare_arrays("out", expected, close_for_float32, TABLE, input_dtype=np.float64).ok


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_anywhere_fails_even_where_the_expected_value_is_irrelevant(bad):
    expected = np.zeros(6)
    actual = expected.copy()
    actual[4] = bad
    result = compare_arrays("output", expected, actual, TABLE)
    assert result.problem == "nonfinite" and "index (4,)" in result.message
    all_nan = compare_arrays("output", expected, np.full(6, bad), TABLE)
    assert all_nan.problem == "nonfinite"


def test_values_that_overflow_the_difference_fail_without_nan_figures():
    expected = np.array([-1e308, 1.0])
    actual = np.array([1e308, 1.0])
    result = compare_arrays("output", expected, actual, TABLE)
    assert result.problem == "values"
    assert result.metrics["max_abs_error"] == np.inf and not np.isnan(result.metrics["max_rel_error"])


def test_a_nan_scalar_loss_fails():
    assert compare_arrays("loss", np.asarray(0.5), np.asarray(np.nan), TABLE, shape_policy="squeeze").problem == "nonfinite"


def test_complex_and_boolean_outputs_are_not_numbers_the_check_accepts():
    expected = np.ones(3)
    assert "complex" in compare_arrays("out", expected, expected.astype(np.complex128), TABLE).message
    assert "True/False" in compare_arrays("out", expected, np.ones(3, dtype=bool), TABLE).message


def test_expected_values_that_are_not_finite_are_the_harness_fault():
    with pytest.raises(ValueError, match="not finite"):
        compare_arrays("out", np.array([np.nan]), np.array([1.0]), TABLE)


def test_exact_comparisons_name_nan():
    result = compare_exact("top1", np.asarray(281), np.asarray(np.nan))
    assert result.problem == "nonfinite" and "NaN" in result.message
    assert compare_exact("top1", np.asarray(281), np.full((1, 1000), np.nan)).problem == "nonfinite"


def test_a_hidden_case_gives_no_value_and_coarse_errors_back():
    """An output of input + 1000 would give the input back through max_abs_error at full precision."""
    expected = np.zeros((3, 4))
    actual = expected + 1000.1453393134661
    hidden = compare_arrays("out", expected, actual, TABLE, reveal=False)
    assert not hidden.ok and hidden.metrics["max_abs_error"] == 1000.0
    assert not {"worst_expected", "worst_actual", "scale"} & set(hidden.metrics)
    passing = compare_arrays("out", expected + 1.2345678, expected + 1.2345678, TABLE, reveal=False)
    assert passing.ok and "worst_expected" not in passing.metrics
    shaped = compare_arrays("out", expected, np.zeros(1199124), TABLE, reveal=False)
    assert shaped.problem == "shape" and "1199124" not in shaped.message
    public = compare_arrays("out", expected, actual, TABLE, reveal=True)
    assert public.metrics["max_abs_error"] == 1000.1453393134661 and "worst_expected" in public.metrics
