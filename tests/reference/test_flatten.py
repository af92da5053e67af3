"""AICS (NHWC) and plain (NCHW) flatten: PyTorch, the fc6 weight-row order, finite differences, loops,
dtypes, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.errors import LayerArgumentError
from reference.layers import flatten

from _gradcheck import assert_rel_close, numeric_gradient

nchw_shapes = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))
seeds = st.integers(0, 2**32 - 1)

FLATTENS = {
    "nhwc": (flatten.flatten_nhwc_forward, flatten.flatten_nhwc_backward,
             flatten.flatten_nhwc_forward_loop, flatten.flatten_nhwc_backward_loop),
    "plain": (flatten.flatten_forward, flatten.flatten_backward,
              flatten.flatten_forward_loop, flatten.flatten_backward_loop),
}


def arrays(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    return x, rng.standard_normal((shape[0], x[0].size))


@settings(max_examples=25)
@given(shape=nchw_shapes, seed=seeds)
def test_matches_torch_permute_and_flatten(shape, seed):
    torch = pytest.importorskip("torch")
    x, dout = arrays(shape, seed)
    for name, to_rows in (("nhwc", lambda t: t.permute(0, 2, 3, 1).reshape(shape[0], -1)),
                          ("plain", lambda t: torch.flatten(t, 1))):
        forward, backward, _, _ = FLATTENS[name]
        x_t = torch.tensor(x, requires_grad=True)
        expected = to_rows(x_t)
        expected.backward(torch.tensor(dout))
        np.testing.assert_array_equal(forward(x), expected.detach().numpy())
        np.testing.assert_array_equal(backward(dout, x.shape), x_t.grad.numpy())


def test_nhwc_rows_pair_activations_with_matconvnet_fc_weight_rows():
    """fc6 in MatConvNet is a [H, W, C, out] convolution over the whole map; the course reshapes its
    weight to [H*W*C, out], which only the NHWC flatten lines up with."""
    rng = np.random.default_rng(0)
    x, weight_hwco = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((4, 5, 3, 6))
    expected = np.einsum("nchw,hwco->no", x, weight_hwco)
    weight_rows = weight_hwco.reshape(4 * 5 * 3, 6)
    np.testing.assert_allclose(flatten.flatten_nhwc_forward(x) @ weight_rows, expected, rtol=1e-12)
    assert not np.allclose(flatten.flatten_forward(x) @ weight_rows, expected)


@pytest.mark.parametrize("name", FLATTENS)
@settings(max_examples=10)
@given(shape=nchw_shapes, seed=seeds)
def test_backward_matches_finite_differences(name, shape, seed):
    forward, backward, _, _ = FLATTENS[name]
    x, dout = arrays(shape, seed)
    assert_rel_close(backward(dout, x.shape), numeric_gradient(forward, x, dout))


@pytest.mark.parametrize("name", FLATTENS)
@settings(max_examples=15)
@given(shape=nchw_shapes, seed=seeds)
def test_loops_equal_fast(name, shape, seed):
    forward, backward, forward_loop, backward_loop = FLATTENS[name]
    x, dout = arrays(shape, seed)
    np.testing.assert_array_equal(forward_loop(x), forward(x))
    np.testing.assert_array_equal(backward_loop(dout, x.shape), backward(dout, x.shape))


def test_plain_flatten_takes_any_number_of_feature_axes():
    x = np.arange(2 * 3 * 4 * 5 * 2, dtype=float).reshape(2, 3, 4, 5, 2)
    rows = flatten.flatten_forward(x)
    assert rows.shape == (2, 120)
    np.testing.assert_array_equal(flatten.flatten_backward(rows, x.shape), x)
    np.testing.assert_array_equal(flatten.flatten_forward_loop(x), rows)


@pytest.mark.parametrize("name", FLATTENS)
def test_dtype_is_kept(name):
    forward, backward, _, _ = FLATTENS[name]
    x, dout = arrays((2, 3, 2, 2), seed=1)
    assert forward(x.astype(np.float32)).dtype == np.float32
    assert backward(dout.astype(np.float32), x.shape).dtype == np.float32
    assert forward(np.ones((1, 2, 1, 1), np.int32)).dtype == np.float64


@pytest.mark.parametrize("call, argument", [
    (lambda: flatten.flatten_nhwc_forward(np.ones((2, 3, 4))), "x"),
    (lambda: flatten.flatten_nhwc_backward(np.ones((2, 5)), (2, 3, 2, 1)), "dout"),
    (lambda: flatten.flatten_nhwc_backward(np.ones((2, 6)), (2, 6)), "input_shape"),
    (lambda: flatten.flatten_backward(np.ones((2, 6)), (2, -6)), "input_shape"),
    (lambda: flatten.flatten_forward(np.ones(6)), "x"),
])
def test_invalid_arguments_name_the_argument(call, argument):
    with pytest.raises(LayerArgumentError, match=rf"^{argument}\b"):
        call()
