"""Inverted dropout: the documented mask, invariants, PyTorch's scaling, finite differences, loops,
dtypes, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference.errors import LayerArgumentError
from reference.layers import dropout

from _gradcheck import assert_rel_close, numeric_gradient

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)
keep_probs = st.sampled_from([0.1, 0.25, 0.5, 0.8, 1.0])
seeds = st.integers(0, 2**32 - 1)


def arrays(shape, seed):
    rng = np.random.default_rng(seed)
    # |x| >= 0.5, so a zero output can only come from the mask
    return rng.choice([-1, 1], shape) * rng.uniform(0.5, 2, shape), rng.standard_normal(shape)


@settings(max_examples=30)
@given(shape=shapes, keep_prob=keep_probs, seed=seeds)
def test_mask_is_the_documented_draw(shape, keep_prob, seed):
    expected = (np.random.default_rng(seed).random(shape) < keep_prob) / keep_prob
    np.testing.assert_array_equal(dropout.dropout_mask(shape, keep_prob, seed), expected)


@settings(max_examples=30)
@given(shape=shapes, keep_prob=keep_probs, seed=seeds)
def test_forward_and_backward_apply_the_same_mask(shape, keep_prob, seed):
    x, dout = arrays(shape, seed)
    mask = dropout.dropout_mask(shape, keep_prob, seed)
    out = dropout.dropout_forward(x, keep_prob, seed)
    dx = dropout.dropout_backward(dout, x, keep_prob, seed)
    np.testing.assert_array_equal(out, x * mask)
    np.testing.assert_array_equal(dx, dout * mask)
    # the invariants a checker can use without the mask: each output is 0 or x / p, dx vanishes with it
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / keep_prob, rtol=1e-15)
    np.testing.assert_array_equal(dx[~kept], 0)
    np.testing.assert_allclose(dx[kept], dout[kept] / keep_prob, rtol=1e-15)


def test_mask_keeps_about_p_of_the_units_and_preserves_the_mean():
    mask = dropout.dropout_mask((200, 500), 0.3, seed=123)
    kept_fraction = np.mean(mask > 0)
    # 100000 Bernoulli(0.3) draws: standard deviation 0.00145
    assert abs(kept_fraction - 0.3) < 0.01
    assert abs(mask.mean() - 1) < 0.01 / 0.3


def test_seed_decides_the_mask():
    first = dropout.dropout_mask((4, 50), 0.5, seed=1)
    np.testing.assert_array_equal(dropout.dropout_mask((4, 50), 0.5, seed=1), first)
    assert not np.array_equal(dropout.dropout_mask((4, 50), 0.5, seed=2), first)


@settings(max_examples=10)
@given(shape=shapes, keep_prob=keep_probs, seed=seeds)
def test_test_mode_and_keep_everything_are_the_identity(shape, keep_prob, seed):
    x, dout = arrays(shape, seed)
    np.testing.assert_array_equal(dropout.dropout_forward(x, keep_prob, seed, mode="test"), x)
    np.testing.assert_array_equal(dropout.dropout_backward(dout, x, keep_prob, seed, mode="test"), dout)
    np.testing.assert_array_equal(dropout.dropout_forward(x, 1.0, seed), x)


def test_scaling_matches_torch_dropout():
    """torch's p is the DROP probability; its kept units are scaled by 1 / (1 - p), as ours by 1 / keep_prob."""
    torch = pytest.importorskip("torch")
    x, _ = arrays((50, 40), seed=0)
    torch.manual_seed(0)
    theirs = torch.nn.functional.dropout(torch.tensor(x), p=0.7, training=True).numpy()
    ours = dropout.dropout_forward(x, 0.3, seed=0)
    for output in (theirs, ours):
        kept = output != 0
        np.testing.assert_allclose(output[kept], x[kept] / 0.3, rtol=1e-15)
        assert abs(kept.mean() - 0.3) < 0.05
    np.testing.assert_array_equal(torch.nn.functional.dropout(torch.tensor(x), p=0.7, training=False).numpy(),
                                  dropout.dropout_forward(x, 0.3, seed=0, mode="test"))


@settings(max_examples=10)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), keep_prob=keep_probs, seed=seeds)
def test_backward_matches_finite_differences(shape, keep_prob, seed):
    x, dout = arrays(shape, seed)
    assert_rel_close(dropout.dropout_backward(dout, x, keep_prob, seed),
                     numeric_gradient(lambda v: dropout.dropout_forward(v, keep_prob, seed), x, dout))


@settings(max_examples=20)
@given(shape=shapes, keep_prob=keep_probs, seed=seeds, mode=st.sampled_from(["train", "test"]))
def test_loops_equal_fast(shape, keep_prob, seed, mode):
    x, dout = arrays(shape, seed)
    np.testing.assert_allclose(dropout.dropout_forward_loop(x, keep_prob, seed, mode),
                               dropout.dropout_forward(x, keep_prob, seed, mode), rtol=1e-15, atol=0)
    np.testing.assert_allclose(dropout.dropout_backward_loop(dout, x, keep_prob, seed, mode),
                               dropout.dropout_backward(dout, x, keep_prob, seed, mode), rtol=1e-15, atol=0)


def test_float32_in_float32_out_with_the_same_mask():
    x, dout = arrays((3, 4, 5), seed=8)
    out32 = dropout.dropout_forward(x.astype(np.float32), 0.6, seed=8)
    dx32 = dropout.dropout_backward(dout.astype(np.float32), x.astype(np.float32), 0.6, seed=8)
    assert out32.dtype == np.float32 and dx32.dtype == np.float32
    np.testing.assert_allclose(out32, dropout.dropout_forward(x, 0.6, seed=8), rtol=1e-6)
    np.testing.assert_allclose(dx32, dropout.dropout_backward(dout, x, 0.6, seed=8), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("call, argument", [
    (lambda: dropout.dropout_forward(np.ones(3), 0.0, seed=0), "keep_prob"),
    (lambda: dropout.dropout_forward(np.ones(3), 1.5, seed=0), "keep_prob"),
    (lambda: dropout.dropout_forward(np.ones(3), -0.2, seed=0), "keep_prob"),
    (lambda: dropout.dropout_forward(np.ones(3), 0.5, seed=-1), "seed"),
    (lambda: dropout.dropout_forward(np.ones(3), 0.5, seed=1.5), "seed"),
    (lambda: dropout.dropout_forward(np.ones(3), 0.5, seed=0, mode="eval"), "mode"),
    (lambda: dropout.dropout_backward(np.ones(2), np.ones(3), 0.5, seed=0), "dout"),
    (lambda: dropout.dropout_mask((2, -1), 0.5, seed=0), "shape"),
])
def test_invalid_arguments_name_the_argument(call, argument):
    with pytest.raises(LayerArgumentError, match=rf"^{argument}\b"):
        call()
