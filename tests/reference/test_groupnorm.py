"""Spatial group norm: PyTorch's group_norm, finite differences, the loops, dtypes and argument errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.errors import LayerArgumentError
from reference.layers import groupnorm

from _gradcheck import assert_rel_close, numeric_gradient

# (N, G, channels per group, H, W)
shapes = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).filter(
    lambda s: s[2] * s[3] * s[4] > 1)


def arrays(shape, seed):
    batch, groups, per_group, height, width = shape
    rng = np.random.default_rng(seed)
    channels = groups * per_group
    x = rng.standard_normal((batch, channels, height, width)) * 3 + 2
    return x, rng.standard_normal(channels), rng.standard_normal(channels), rng.standard_normal(x.shape), groups


@settings(max_examples=25)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_matches_torch(shape, seed):
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout, groups = arrays(shape, seed)
    x_t, gamma_t, beta_t = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    out_t = torch.nn.functional.group_norm(x_t, groups, gamma_t, beta_t, eps=1e-5)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(groupnorm.groupnorm_forward(x, gamma, beta, groups), out_t.detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    dx, dgamma, dbeta = groupnorm.groupnorm_backward(dout, x, gamma, groups)
    for ours, theirs in ((dx, x_t), (dgamma, gamma_t), (dbeta, beta_t)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("shape", [(2, 2, 2, 3, 3), (1, 1, 3, 2, 2), (3, 3, 1, 2, 3)])
def test_backward_is_the_gradient(shape):
    x, gamma, beta, dout, groups = arrays(shape, 7)
    dx, dgamma, dbeta = groupnorm.groupnorm_backward(dout, x, gamma, groups)
    assert_rel_close(dx, numeric_gradient(lambda v: groupnorm.groupnorm_forward(v, gamma, beta, groups), x, dout), 1e-6)
    assert_rel_close(dgamma, numeric_gradient(lambda g: groupnorm.groupnorm_forward(x, g, beta, groups), gamma, dout))
    assert_rel_close(dbeta, numeric_gradient(lambda b: groupnorm.groupnorm_forward(x, gamma, b, groups), beta, dout))


@settings(max_examples=10)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_loops_equal_fast(shape, seed):
    x, gamma, beta, dout, groups = arrays(shape, seed)
    np.testing.assert_allclose(groupnorm.groupnorm_forward_loop(x, gamma, beta, groups),
                               groupnorm.groupnorm_forward(x, gamma, beta, groups), rtol=1e-10, atol=1e-12)
    for loop, fast in zip(groupnorm.groupnorm_backward_loop(dout, x, gamma, groups),
                          groupnorm.groupnorm_backward(dout, x, gamma, groups)):
        np.testing.assert_allclose(loop, fast, rtol=1e-9, atol=1e-11)


def test_float32_in_float32_out_and_inputs_untouched():
    x, gamma, beta, dout, groups = arrays((2, 2, 2, 3, 3), 3)
    x32 = x.astype(np.float32)
    before = x32.copy()
    out = groupnorm.groupnorm_forward(x32, gamma.astype(np.float32), beta.astype(np.float32), groups)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(x32, before)
    np.testing.assert_allclose(out, groupnorm.groupnorm_forward(x, gamma, beta, groups), rtol=1e-4, atol=1e-5)


def test_one_group_is_layer_norm_over_chw():
    x, gamma, beta, _, _ = arrays((2, 1, 4, 2, 2), 5)
    out = groupnorm.groupnorm_forward(x, np.ones(4), np.zeros(4), 1)
    np.testing.assert_allclose(out.reshape(2, -1).mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.reshape(2, -1).var(axis=1), 1, rtol=1e-4)


@pytest.mark.parametrize("call, words", [
    (lambda: groupnorm.groupnorm_forward(np.zeros((1, 3, 2, 2)), np.ones(3), np.zeros(3), 2), "divide"),
    (lambda: groupnorm.groupnorm_forward(np.zeros((1, 4, 2, 2)), np.ones((1, 4, 1, 1)), np.zeros(4), 2), "gamma"),
    (lambda: groupnorm.groupnorm_forward(np.zeros((4, 2)), np.ones(2), np.zeros(2), 1), "NCHW"),
    (lambda: groupnorm.groupnorm_backward(np.zeros((1, 4, 2, 3)), np.zeros((1, 4, 2, 2)), np.ones(4), 2), "dout"),
])
def test_argument_errors_name_the_argument(call, words):
    with pytest.raises(LayerArgumentError, match=words):
        call()
