"""ReLU, sigmoid and tanh: PyTorch, finite differences, ReLU's subgradient bounds, loops, dtypes, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference.errors import LayerArgumentError
from reference.layers import activations

from _gradcheck import assert_rel_close, numeric_gradient

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)
seeds = st.integers(0, 2**32 - 1)

LAYERS = {
    "relu": (activations.relu_forward, activations.relu_backward,
             activations.relu_forward_loop, activations.relu_backward_loop),
    "sigmoid": (activations.sigmoid_forward, activations.sigmoid_backward,
                activations.sigmoid_forward_loop, activations.sigmoid_backward_loop),
    "tanh": (activations.tanh_forward, activations.tanh_backward,
             activations.tanh_forward_loop, activations.tanh_backward_loop),
}


def with_zeros(shape, seed):
    """Normal values with about a quarter set to exactly 0 (ReLU's kink), and dout."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    x[rng.random(shape) < 0.25] = 0.0
    return x, rng.standard_normal(shape)


def torch_function(torch, name):
    return {"relu": torch.nn.functional.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[name]


@pytest.mark.parametrize("name", LAYERS)
@settings(max_examples=20)
@given(shape=shapes, seed=seeds)
def test_matches_torch_including_relu_at_zero(name, shape, seed):
    torch = pytest.importorskip("torch")
    forward, backward, _, _ = LAYERS[name]
    x, dout = with_zeros(shape, seed)
    x_t = torch.tensor(x, requires_grad=True)
    expected = torch_function(torch, name)(x_t)
    expected.backward(torch.tensor(dout))
    np.testing.assert_allclose(forward(x), expected.detach().numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(backward(dout, x), x_t.grad.numpy(), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", LAYERS)
@settings(max_examples=10)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), seed=seeds)
def test_backward_matches_finite_differences(name, shape, seed):
    forward, backward, _, _ = LAYERS[name]
    rng = np.random.default_rng(seed)
    # |x| >= 0.1 keeps ReLU's kink out of reach of the difference step
    x = rng.choice([-1, 1], shape) * rng.uniform(0.1, 3, shape)
    dout = rng.standard_normal(shape)
    assert_rel_close(backward(dout, x), numeric_gradient(forward, x, dout))


@pytest.mark.parametrize("name", LAYERS)
@settings(max_examples=15)
@given(shape=shapes, seed=seeds)
def test_loops_equal_fast(name, shape, seed):
    forward, backward, forward_loop, backward_loop = LAYERS[name]
    x, dout = with_zeros(shape, seed)
    np.testing.assert_allclose(forward_loop(x), forward(x), rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(backward_loop(dout, x), backward(dout, x), rtol=1e-13, atol=1e-15)


@settings(max_examples=20)
@given(shape=shapes, seed=seeds)
def test_relu_bounds_hold_every_valid_subgradient_and_only_those(shape, seed):
    x, dout = with_zeros(shape, seed)
    lower, upper = activations.relu_backward_bounds(dout, x)
    kinks = activations.relu_kinks(x)
    np.testing.assert_array_equal(kinks, x == 0)
    np.testing.assert_array_equal(lower[~kinks], upper[~kinks])
    for slope_at_zero in (0.0, 0.5, 1.0):
        valid = np.where(x > 0, dout, 0) + np.where(kinks, slope_at_zero * dout, 0)
        assert np.all((lower <= valid) & (valid <= upper))
    passthrough = dout  # the "forgot the mask" mistake
    outside = (passthrough < lower) | (passthrough > upper)
    np.testing.assert_array_equal(outside, (x < 0) & (dout != 0))


def test_relu_reference_takes_zero_at_the_kink():
    x, dout = np.array([-1.0, 0.0, 2.0]), np.array([5.0, 5.0, 5.0])
    np.testing.assert_array_equal(activations.relu_backward(dout, x), [0.0, 0.0, 5.0])
    np.testing.assert_array_equal(activations.relu_backward_bounds(dout, x)[1], [0.0, 5.0, 5.0])


def test_sigmoid_saturates_without_overflow():
    x = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    with np.errstate(all="raise"):
        out = activations.sigmoid_forward(x)
        loop = activations.sigmoid_forward_loop(x)
    np.testing.assert_allclose(out, [0.0, np.exp(-40.0), 0.5, 1.0, 1.0], rtol=1e-15, atol=0)
    np.testing.assert_allclose(loop, out, rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", LAYERS)
def test_float32_in_float32_out(name):
    forward, backward, _, _ = LAYERS[name]
    x, dout = with_zeros((3, 4, 5), seed=2)
    x32, dout32 = x.astype(np.float32), dout.astype(np.float32)
    assert forward(x32).dtype == np.float32 and backward(dout32, x32).dtype == np.float32
    np.testing.assert_allclose(forward(x32), forward(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(backward(dout32, x32), backward(dout, x), rtol=1e-6, atol=1e-7)
    assert forward(np.arange(-2, 3)).dtype == np.float64


@pytest.mark.parametrize("backward", [activations.relu_backward, activations.sigmoid_backward,
                                      activations.tanh_backward, activations.relu_backward_bounds])
def test_dout_of_another_shape_is_refused(backward):
    with pytest.raises(LayerArgumentError, match=r"^dout must have x's shape"):
        backward(np.ones((2, 3)), np.ones((3, 2)))
