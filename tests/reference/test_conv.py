"""reference.layers.conv: against PyTorch, central differences and the lab's loops, on every GEMM scheme."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import _validate
from reference.errors import LayerArgumentError
from reference.layers import _conv_gemm, conv

from _gradcheck import assert_rel_close, numeric_gradient


def _case_arrays(case):
    """x, weight (OIHW) and bias of a case, float64."""
    rng = np.random.default_rng(case["seed"])
    channels = case["shape"][1]
    x = rng.standard_normal(case["shape"])
    weight = rng.standard_normal((case["channels_out"], channels) + tuple(case["kernel"]))
    bias = rng.standard_normal(case["channels_out"])
    return x, weight, bias


def _dout_for(case, x, weight):
    out_shape = conv.conv2d_forward(x, weight, None, case["stride"], case["padding"]).shape
    return np.random.default_rng(case["seed"] + 1).standard_normal(out_shape)


STRIDES = (1, 2, 3, (1, 2), (3, 1), (4, 4))


@st.composite
def conv_cases(draw, sizes=(1, 9), channels=(1, 4), batches=(1, 3), kernel_sides=(1, 4), strides=STRIDES):
    """Valid conv arguments: non-square kernels, strides above the kernel, the four padding forms."""
    kernel = (draw(st.integers(*kernel_sides)), draw(st.integers(*kernel_sides)))
    stride = draw(st.sampled_from(strides))
    padding_forms = [st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                     st.tuples(*[st.integers(0, 3)] * 4)]
    if stride == 1:
        padding_forms.append(st.just("same"))
    padding = draw(st.one_of(padding_forms))
    top, bottom, left, right = _validate.padding4("padding", padding, kernel)
    # smallest input whose padded size still holds one window (so the kernel may equal the padded input)
    height = draw(st.integers(max(sizes[0], kernel[0] - top - bottom, 1), sizes[1]))
    width = draw(st.integers(max(sizes[0], kernel[1] - left - right, 1), sizes[1]))
    return {"shape": (draw(st.integers(*batches)), draw(st.integers(*channels)), height, width),
            "channels_out": draw(st.integers(*channels)), "kernel": kernel, "stride": stride,
            "padding": padding, "seed": draw(st.integers(0, 2**31))}


def _torch_conv(torch, case, x, weight, bias):
    """Forward output and (x, weight, bias) tensors that require grad, F.conv2d with explicit F.pad."""
    functional = torch.nn.functional
    top, bottom, left, right = _validate.padding4("padding", case["padding"], case["kernel"])
    tensors = [torch.tensor(array, requires_grad=True) for array in (x, weight, bias)]
    padded = functional.pad(tensors[0], (left, right, top, bottom))
    return functional.conv2d(padded, tensors[1], tensors[2], stride=_validate.pair("stride", case["stride"])), tensors


def _assert_close(actual, expected, rtol=1e-12):
    """Relative to the expected array's scale: sums of many products cancel, so elementwise rtol misleads."""
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


# --- against PyTorch --------------------------------------------------------------------------------

def _check_against_torch(case):
    torch = pytest.importorskip("torch")
    x, weight, bias = _case_arrays(case)
    expected, tensors = _torch_conv(torch, case, x, weight, bias)
    _assert_close(conv.conv2d_forward(x, weight, bias, case["stride"], case["padding"]), expected.detach().numpy())
    dout = np.random.default_rng(case["seed"] + 1).standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(dout))
    actual = conv.conv2d_backward(dout, x, weight, case["stride"], case["padding"])
    for name, value, tensor in zip(("dx", "dweight", "dbias"), actual, tensors):
        assert value.shape == tuple(tensor.shape), name
        _assert_close(value, tensor.grad.numpy())


@settings(max_examples=60)
@given(case=conv_cases())
def test_im2col_sizes_match_torch(case):
    _check_against_torch(case)


@settings(max_examples=12)
@given(case=conv_cases(sizes=(30, 40), channels=(1, 5), batches=(1, 2)))
def test_shifted_gemm_sizes_match_torch(case):
    _check_against_torch(case)


@settings(max_examples=8)
@given(case=conv_cases(sizes=(5, 19), channels=(64, 70), batches=(1, 2), kernel_sides=(3, 3), strides=(1,)))
def test_winograd_sizes_match_torch(case):
    _check_against_torch(case)


SCHEME_CASES = {
    "im2col": {"shape": (2, 3, 7, 9), "channels_out": 4, "kernel": (3, 2), "stride": 2, "padding": (1, 0, 2, 1)},
    "shifted": {"shape": (1, 5, 33, 30), "channels_out": 6, "kernel": (2, 4), "stride": 1, "padding": "same"},
    "winograd": {"shape": (2, 64, 13, 17), "channels_out": 72, "kernel": (3, 3), "stride": 1, "padding": (0, 2, 1, 1)},
    "lab speed test": {"shape": (1, 256, 24, 40), "channels_out": 256, "kernel": (3, 3), "stride": 1, "padding": 1},
    # pads above K-1 = 2: the input gradient is computed on the padded grid and cropped
    "winograd, wide padding": {"shape": (1, 64, 11, 13), "channels_out": 64, "kernel": (3, 3), "stride": 1,
                               "padding": (3, 1, 0, 4)},
}


def _scheme(case) -> str:
    """Which GEMM scheme conv2d_forward runs for the case (float64)."""
    x, weight, _ = _case_arrays(case)
    top, bottom, left, right = _validate.padding4("padding", case["padding"], case["kernel"])
    stride_hw = _validate.pair("stride", case["stride"])
    out_hw = conv.conv2d_forward(x, weight, None, case["stride"], case["padding"]).shape[2:]
    if conv._winograd_variant(weight, x.shape[0], stride_hw, out_hw) is not None:
        return "winograd"
    batch, channels, height, width = x.shape
    padded_shape = (batch, height + top + bottom, width + left + right, channels)
    return "shifted" if _conv_gemm.uses_shifted_gemms(padded_shape, case["kernel"], stride_hw) else "im2col"


@pytest.mark.parametrize("name", SCHEME_CASES)
def test_each_scheme_matches_torch(name):
    case = dict(SCHEME_CASES[name], seed=7)
    assert _scheme(case) == name.split(",")[0].replace("lab speed test", "winograd")     # the case really runs that scheme
    _check_against_torch(case)


# --- against central differences and the loops ------------------------------------------------------

@settings(max_examples=20)
@given(case=conv_cases(sizes=(1, 5), channels=(1, 2), batches=(1, 2)))
def test_backward_matches_central_differences(case):
    x, weight, bias = _case_arrays(case)
    dout = _dout_for(case, x, weight)
    stride, padding = case["stride"], case["padding"]
    dx, dweight, dbias = conv.conv2d_backward(dout, x, weight, stride, padding)
    assert_rel_close(dx, numeric_gradient(lambda value: conv.conv2d_forward(value, weight, bias, stride, padding),
                                          x, dout), name="dx")
    assert_rel_close(dweight, numeric_gradient(lambda value: conv.conv2d_forward(x, value, bias, stride, padding),
                                               weight, dout), name="dweight")
    assert_rel_close(dbias, numeric_gradient(lambda value: conv.conv2d_forward(x, weight, value, stride, padding),
                                             bias, dout), name="dbias")


@settings(max_examples=40)
@given(case=conv_cases(sizes=(1, 7)))
def test_fast_equals_loop(case):
    x, weight, bias = _case_arrays(case)
    dout = _dout_for(case, x, weight)
    stride, padding = case["stride"], case["padding"]
    _assert_close(conv.conv2d_forward(x, weight, bias, stride, padding),
                  conv.conv2d_forward_loop(x, weight, bias, stride, padding))
    _assert_close(conv.conv2d_forward(x, weight, None, stride, padding),
                  conv.conv2d_forward_loop(x, weight, None, stride, padding))
    for fast, loop in zip(conv.conv2d_backward(dout, x, weight, stride, padding),
                          conv.conv2d_backward_loop(dout, x, weight, stride, padding)):
        _assert_close(fast, loop)


def test_rows_and_columns_past_the_last_window_get_zero_gradient():
    # 6 rows, kernel 3, stride 2: windows start at rows 0 and 2, so row 5 (and column 5) is never read
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    dx, _, _ = conv.conv2d_backward(rng.standard_normal((1, 3, 2, 2)), x, weight, stride=2)
    assert np.all(dx[:, :, 5, :] == 0) and np.all(dx[:, :, :, 5] == 0)
    assert np.all(dx[:, :, 4, :4] != 0)


@pytest.mark.parametrize("kernel, pads", [(3, (1, 1, 1, 1)), (4, (1, 2, 1, 2)), (2, (0, 1, 0, 1)), (1, (0, 0, 0, 0))])
def test_same_padding_is_the_framework_rule(kernel, pads):
    rng = np.random.default_rng(kernel)
    x, weight = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((2, 2, kernel, kernel))
    same = conv.conv2d_forward(x, weight, padding="same")
    assert same.shape[2:] == x.shape[2:]
    np.testing.assert_array_equal(same, conv.conv2d_forward(x, weight, padding=pads))


# --- dtypes ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SCHEME_CASES)
def test_float32_in_gives_float32_out_close_to_float64(name):
    case = dict(SCHEME_CASES[name], seed=3)
    arrays32 = [array.astype(np.float32) for array in _case_arrays(case)]
    arrays64 = [array.astype(np.float64) for array in arrays32]      # the same values: only rounding differs
    dout32 = _dout_for(case, *arrays64[:2]).astype(np.float32)
    args = (case["stride"], case["padding"])
    out32 = conv.conv2d_forward(*arrays32, *args)
    assert out32.dtype == np.float32
    _assert_close(out32, conv.conv2d_forward(*arrays64, *args), rtol=1e-5)
    grads32 = conv.conv2d_backward(dout32, *arrays32[:2], *args)
    grads64 = conv.conv2d_backward(dout32.astype(np.float64), *arrays64[:2], *args)
    for value32, value64 in zip(grads32, grads64):
        assert value32.dtype == np.float32
        _assert_close(value32, value64, rtol=1e-5)


def test_integer_inputs_compute_in_float64_and_float16_stays_float16():
    x = np.arange(2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    weight = np.ones((2, 3, 3, 3), dtype=np.int32)
    assert conv.conv2d_forward(x, weight).dtype == np.float64
    np.testing.assert_array_equal(conv.conv2d_forward(x, weight), conv.conv2d_forward_loop(x, weight))
    half = conv.conv2d_forward(x.astype(np.float16), weight.astype(np.float16), padding=1)
    assert half.dtype == np.float16
    np.testing.assert_allclose(half, conv.conv2d_forward(x, weight, padding=1), rtol=2e-3)


# --- weight layouts -------------------------------------------------------------------------------------

def test_layout_converters_move_the_axes_the_documented_way():
    weight = np.random.default_rng(0).standard_normal((5, 2, 3, 4))           # OIHW, non-square kernel
    aics, matconvnet = conv.oihw_to_aics(weight), conv.oihw_to_matconvnet(weight)
    assert aics.shape == (2, 3, 4, 5) and matconvnet.shape == (3, 4, 2, 5)
    assert aics[1, 2, 3, 4] == weight[4, 1, 2, 3] == matconvnet[2, 3, 1, 4]
    np.testing.assert_array_equal(conv.aics_to_oihw(aics), weight)
    np.testing.assert_array_equal(conv.matconvnet_to_oihw(matconvnet), weight)


def test_aics_layout_gives_the_course_formula():
    # out[n, c, i, j] = sum(window * weight[:, :, :, c]) + bias[c], the lab's forward_raw with [Cin, K, K, Cout]
    rng = np.random.default_rng(1)
    x, weight_aics, bias = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 3, 3, 5)), rng.standard_normal(5)
    out = conv.conv2d_forward(x, conv.aics_to_oihw(weight_aics), bias)
    expected = np.sum(x[0, :, 1:4, 0:3] * weight_aics[:, :, :, 4]) + bias[4]
    assert out[0, 4, 1, 0] == pytest.approx(expected, rel=1e-12)


# --- invalid arguments ----------------------------------------------------------------------------------

X, W = np.zeros((1, 2, 5, 5)), np.zeros((3, 2, 3, 3))


@pytest.mark.parametrize("call, message", [
    (lambda: conv.conv2d_forward(np.zeros((2, 5, 5)), W), r"x must have 4 dimensions \(NCHW\)"),
    (lambda: conv.conv2d_forward(X, np.zeros((3, 2, 3))), r"weight must have 4 dimensions"),
    (lambda: conv.conv2d_forward(X, np.zeros((3, 4, 3, 3))), r"weight expects Cin=4 .* x has C=2"),
    (lambda: conv.conv2d_forward(X, W, np.zeros(2)), r"bias must have shape \(3,\)"),
    (lambda: conv.conv2d_forward(X, W, padding=-1), r"padding must be a non-negative integer, got -1"),
    (lambda: conv.conv2d_forward(X, W, padding=(1, 2, 3)), r"padding must have 1, 2 or 4 entries"),
    (lambda: conv.conv2d_forward(X, W, padding="valid"), r'padding must be an int, a tuple or "same"'),
    (lambda: conv.conv2d_forward(X, W, stride=2, padding="same"), r'padding="same" is defined for stride 1 only'),
    (lambda: conv.conv2d_forward(X, W, stride=0), r"stride must be a positive integer, got 0"),
    (lambda: conv.conv2d_forward(X, np.zeros((3, 2, 8, 3))), r"kernel height 8 is larger than the padded input"),
    (lambda: conv.conv2d_forward(X, np.zeros((3, 2, 3, 9)), padding=1), r"kernel width 9 .* padded input width 7"),
    (lambda: conv.conv2d_backward(np.zeros((1, 3, 2, 2)), X, W), r"dout must have the output's shape \(1, 3, 3, 3\)"),
    (lambda: conv.conv2d_backward_loop(np.zeros((1, 3, 3)), X, W), r"dout must have the output's shape"),
    (lambda: conv.conv2d_forward_loop(X, W, np.zeros((3, 1))), r"bias must have shape \(3,\)"),
    (lambda: conv.aics_to_oihw(np.zeros((3, 3, 3))), r"weight_cin_k_k_cout must have 4 dimensions"),
])
def test_invalid_arguments_name_the_argument(call, message):
    with pytest.raises(LayerArgumentError, match=message):
        call()
