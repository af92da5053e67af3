"""reference.layers.pool: against PyTorch and central differences, the tie rule, overlapping windows, loops."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import _validate
from reference.errors import LayerArgumentError
from reference.layers import pool

from _gradcheck import assert_rel_close, numeric_gradient


@st.composite
def pool_cases(draw, sizes=(1, 9)):
    """Valid pooling arguments; strides below (overlapping windows), equal to and above the kernel."""
    kernel = draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    stride = draw(st.one_of(st.none(), st.integers(1, 5), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    kernel_h, kernel_w = (kernel, kernel) if isinstance(kernel, int) else kernel
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)),
             draw(st.integers(max(kernel_h, sizes[0]), sizes[1])), draw(st.integers(max(kernel_w, sizes[0]), sizes[1])))
    return {"shape": shape, "kernel": kernel, "stride": stride, "seed": draw(st.integers(0, 2**31))}


def distinct_values(shape, seed) -> np.ndarray:
    """A random permutation of distinct values in [-0.5, 0.5), 1/size apart: no window has a tied maximum."""
    size = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(size).reshape(shape) - size / 2) / size


def tied_values(shape, seed) -> np.ndarray:
    """Integers from a small range: most windows have a tied maximum."""
    return np.random.default_rng(seed).integers(0, 3, shape).astype(np.float64)


def _stride_pair(case):
    stride = case["kernel"] if case["stride"] is None else case["stride"]
    return stride if isinstance(stride, tuple) else (stride, stride)


def _dout(case, x):
    out = pool.maxpool2d_forward(x, case["kernel"], case["stride"])
    return np.random.default_rng(case["seed"] + 1).standard_normal(out.shape)


# --- against PyTorch --------------------------------------------------------------------------------

@settings(max_examples=60)
@given(case=pool_cases())
def test_max_pool_matches_torch_on_tie_free_inputs(case):
    torch = pytest.importorskip("torch")
    x = distinct_values(case["shape"], case["seed"])
    tensor = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.max_pool2d(tensor, case["kernel"], _stride_pair(case))
    np.testing.assert_array_equal(pool.maxpool2d_forward(x, case["kernel"], case["stride"]), expected.detach().numpy())
    dout = _dout(case, x)
    expected.backward(torch.tensor(dout))
    np.testing.assert_allclose(pool.maxpool2d_backward(dout, x, case["kernel"], case["stride"]), tensor.grad.numpy(),
                               rtol=1e-14, atol=1e-14)


@settings(max_examples=60)
@given(case=pool_cases())
def test_avg_pool_matches_torch(case):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(case["seed"]).standard_normal(case["shape"])
    tensor = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.avg_pool2d(tensor, case["kernel"], _stride_pair(case))
    np.testing.assert_allclose(pool.avgpool2d_forward(x, case["kernel"], case["stride"]), expected.detach().numpy(),
                               rtol=1e-13, atol=1e-14)
    dout = np.random.default_rng(case["seed"] + 1).standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(dout))
    np.testing.assert_allclose(pool.avgpool2d_backward(dout, x, case["kernel"], case["stride"]), tensor.grad.numpy(),
                               rtol=1e-13, atol=1e-14)


@settings(max_examples=30)
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 7), st.integers(1, 7)),
       seed=st.integers(0, 2**31))
def test_global_avg_pool_matches_torch(shape, seed):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(seed).standard_normal(shape)
    tensor = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.adaptive_avg_pool2d(tensor, 1)
    np.testing.assert_allclose(pool.global_avgpool_forward(x), expected.detach().numpy(), rtol=1e-13, atol=1e-15)
    dout = np.random.default_rng(seed + 1).standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(dout))
    np.testing.assert_allclose(pool.global_avgpool_backward(dout, x), tensor.grad.numpy(), rtol=1e-13, atol=1e-15)


# --- against central differences ----------------------------------------------------------------------

@settings(max_examples=25)
@given(case=pool_cases(sizes=(1, 6)))
def test_backwards_match_central_differences(case):
    # values at least 1/729 apart and a step of 1e-6: no window's maximum changes hands inside the difference
    x = distinct_values(case["shape"], case["seed"])
    dout = _dout(case, x)
    kernel, stride = case["kernel"], case["stride"]
    for forward, backward in ((pool.maxpool2d_forward, pool.maxpool2d_backward),
                              (pool.avgpool2d_forward, pool.avgpool2d_backward)):
        expected = numeric_gradient(lambda value: forward(value, kernel, stride), x, dout)
        assert_rel_close(backward(dout, x, kernel, stride), expected, name=forward.__name__)
    global_dout = dout[:, :, :1, :1]
    assert_rel_close(pool.global_avgpool_backward(global_dout, x),
                     numeric_gradient(pool.global_avgpool_forward, x, global_dout), name="global_avgpool")


# --- the tie rule and overlapping windows -------------------------------------------------------------

def test_tied_maximum_routes_to_the_first_in_row_major_order():
    x = np.array([[[[1.0, 3.0],
                    [3.0, 3.0]]]])
    dx = pool.maxpool2d_backward(np.array([[[[5.0]]]]), x, 2)
    np.testing.assert_array_equal(dx, [[[[0.0, 5.0], [0.0, 0.0]]]])
    assert pool.maxpool2d_window_ties(x, 2).tolist() == [[[[True]]]]


def test_overlapping_windows_accumulate_at_a_shared_maximum():
    # the centre is the maximum of all four 2x2 windows (stride 1): its gradient is the sum of theirs,
    # where the course's raw backward with `=` would keep only the last one (4.0)
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 9.0
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = pool.maxpool2d_backward(dout, x, 2, 1)
    assert dx[0, 0, 1, 1] == 10.0 and np.count_nonzero(dx) == 1
    np.testing.assert_array_equal(pool.maxpool2d_backward_loop(dout, x, 2, 1), dx)


@settings(max_examples=50)
@given(case=pool_cases(sizes=(1, 7)))
def test_fast_equals_loop_with_ties(case):
    x = tied_values(case["shape"], case["seed"])
    dout = _dout(case, x)
    kernel, stride = case["kernel"], case["stride"]
    for fast, loop in ((pool.maxpool2d_forward(x, kernel, stride), pool.maxpool2d_forward_loop(x, kernel, stride)),
                       (pool.maxpool2d_backward(dout, x, kernel, stride),
                        pool.maxpool2d_backward_loop(dout, x, kernel, stride)),
                       (pool.avgpool2d_forward(x, kernel, stride), pool.avgpool2d_forward_loop(x, kernel, stride)),
                       (pool.avgpool2d_backward(dout, x, kernel, stride),
                        pool.avgpool2d_backward_loop(dout, x, kernel, stride)),
                       (pool.global_avgpool_forward(x), pool.global_avgpool_forward_loop(x)),
                       (pool.global_avgpool_backward(dout[:, :, :1, :1], x),
                        pool.global_avgpool_backward_loop(dout[:, :, :1, :1], x))):
        np.testing.assert_allclose(fast, loop, rtol=1e-13, atol=1e-15)


@settings(max_examples=40)
@given(case=pool_cases(sizes=(1, 7)))
def test_window_ties_flags_exactly_the_windows_with_a_repeated_maximum(case):
    x = tied_values(case["shape"], case["seed"])
    (kernel_h, kernel_w), (stride_h, stride_w) = _validate.pair("kernel", case["kernel"]), _stride_pair(case)
    ties = pool.maxpool2d_window_ties(x, case["kernel"], case["stride"])
    for n, c, i, j in np.ndindex(ties.shape):
        window = x[n, c, i * stride_h:i * stride_h + kernel_h, j * stride_w:j * stride_w + kernel_w]
        assert ties[n, c, i, j] == (np.count_nonzero(window == window.max()) > 1)
    assert not pool.maxpool2d_window_ties(distinct_values(case["shape"], case["seed"]), case["kernel"],
                                          case["stride"]).any()


# --- dtypes and arguments --------------------------------------------------------------------------------

def test_float32_stays_float32():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    dout = np.ones((2, 3, 3, 3), dtype=np.float32)
    for value in (pool.maxpool2d_forward(x, 2), pool.maxpool2d_backward(dout, x, 2), pool.avgpool2d_forward(x, 2),
                  pool.avgpool2d_backward(dout, x, 2), pool.global_avgpool_forward(x),
                  pool.global_avgpool_backward(dout[:, :, :1, :1], x)):
        assert value.dtype == np.float32
    np.testing.assert_allclose(pool.avgpool2d_forward(x, 2), pool.avgpool2d_forward(x.astype(np.float64), 2),
                               rtol=1e-6)


X = np.zeros((1, 2, 4, 5))


@pytest.mark.parametrize("call, message", [
    (lambda: pool.maxpool2d_forward(np.zeros((2, 4, 4)), 2), r"x must have 4 dimensions \(NCHW\)"),
    (lambda: pool.maxpool2d_forward(X, 0), r"kernel must be a positive integer, got 0"),
    (lambda: pool.avgpool2d_forward(X, 2, stride=(1, 0)), r"stride must be a positive integer, got 0"),
    (lambda: pool.maxpool2d_forward(X, (5, 2)), r"kernel height 5 is larger than the padded input height 4"),
    (lambda: pool.maxpool2d_window_ties(X, (2, 6)), r"kernel width 6 is larger"),
    (lambda: pool.maxpool2d_backward(np.zeros((1, 2, 2, 3)), X, 2), r"dout must have the output's shape \(1, 2, 2, "),
    (lambda: pool.avgpool2d_backward_loop(np.zeros((1, 2, 2)), X, 2), r"dout must have the output's shape"),
    (lambda: pool.global_avgpool_backward(np.zeros((1, 2)), X), r"dout must have the output's shape \(1, 2, 1, 1\)"),
    (lambda: pool.global_avgpool_forward(np.zeros((1, 2, 0, 3))), r"x must have at least one pixel"),
])
def test_invalid_arguments_name_the_argument(call, message):
    with pytest.raises(LayerArgumentError, match=message):
        call()
