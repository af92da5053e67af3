"""Batch norm ((N, D) and spatial), layer norm: PyTorch (with its momentum and unbiased running variance
translated), finite differences, loops, purity, dtypes, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.errors import LayerArgumentError
from reference.layers import norm

from _gradcheck import assert_rel_close, numeric_gradient

seeds = st.integers(0, 2**32 - 1)
momenta = st.sampled_from([0.0, 0.5, 0.9, 1.0])
modes = st.sampled_from(["train", "test"])
# (N, D) for batch norm, (N, C, H, W) for spatial; torch refuses training statistics of one value
row_shapes = st.tuples(st.integers(2, 6), st.integers(1, 5))
nchw_shapes = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)).filter(
    lambda shape: shape[0] * shape[2] * shape[3] > 1)

BATCH_NORMS = {
    "rows": (norm.batchnorm_forward, norm.batchnorm_backward, norm.batchnorm_forward_loop,
             norm.batchnorm_backward_loop),
    "spatial": (norm.spatial_batchnorm_forward, norm.spatial_batchnorm_backward,
                norm.spatial_batchnorm_forward_loop, norm.spatial_batchnorm_backward_loop),
}


def bn_arrays(shape, seed):
    """x (shifted and scaled, so normalising matters), gamma, beta, running mean, running var (> 0), dout."""
    rng = np.random.default_rng(seed)
    features = shape[1]
    x = rng.standard_normal(shape) * 2.5 + 1.5
    return (x, rng.standard_normal(features), rng.standard_normal(features), rng.standard_normal(features),
            rng.uniform(0.5, 2.0, features), rng.standard_normal(shape))


def torch_batch_norm(torch, x, gamma, beta, running_mean, running_var, dout, mode, momentum):
    """(out, new running_mean, new running_var, dx, dgamma, dbeta) from F.batch_norm with autograd."""
    x_t, gamma_t, beta_t = (torch.tensor(array, requires_grad=True) for array in (x, gamma, beta))
    mean_t, var_t = torch.tensor(running_mean), torch.tensor(running_var)
    out = torch.nn.functional.batch_norm(x_t, mean_t, var_t, gamma_t, beta_t, training=mode == "train",
                                         momentum=1 - momentum, eps=1e-5)
    out.backward(torch.tensor(dout))
    return (out.detach().numpy(), mean_t.numpy(), var_t.numpy(),
            x_t.grad.numpy(), gamma_t.grad.numpy(), beta_t.grad.numpy())


@pytest.mark.parametrize("layout, shapes", [("rows", row_shapes), ("spatial", nchw_shapes)])
@settings(max_examples=20)
@given(data=st.data(), seed=seeds, mode=modes, momentum=momenta)
def test_batchnorm_matches_torch(layout, shapes, data, seed, mode, momentum):
    torch = pytest.importorskip("torch")
    forward, backward, _, _ = BATCH_NORMS[layout]
    shape = data.draw(shapes)
    x, gamma, beta, running_mean, running_var, dout = bn_arrays(shape, seed)
    out_t, mean_t, var_t, dx_t, dgamma_t, dbeta_t = torch_batch_norm(
        torch, x, gamma, beta, running_mean, running_var, dout, mode, momentum)
    out, new_mean, new_var = forward(x, gamma, beta, running_mean, running_var, mode=mode, momentum=momentum)
    np.testing.assert_allclose(out, out_t, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(new_mean, mean_t, rtol=1e-12, atol=1e-14)
    if mode == "train":
        # torch folds in the UNBIASED batch variance: undo the N / (N - 1) on its new share
        count = x.size // shape[1]
        var_t = momentum * running_var + (var_t - momentum * running_var) * (count - 1) / count
    np.testing.assert_allclose(new_var, var_t, rtol=1e-12, atol=1e-14)
    for actual, expected in zip(backward(dout, x, gamma, running_mean, running_var, mode=mode),
                                (dx_t, dgamma_t, dbeta_t)):
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-11)


@settings(max_examples=20)
@given(shape=st.tuples(st.integers(1, 5), st.integers(1, 6)), seed=seeds)
def test_layernorm_matches_torch(shape, seed):
    torch = pytest.importorskip("torch")
    x, gamma, beta, _, _, dout = bn_arrays(shape, seed)
    x_t, gamma_t, beta_t = (torch.tensor(array, requires_grad=True) for array in (x, gamma, beta))
    expected = torch.nn.functional.layer_norm(x_t, (shape[1],), gamma_t, beta_t, eps=1e-5)
    expected.backward(torch.tensor(dout))
    np.testing.assert_allclose(norm.layernorm_forward(x, gamma, beta), expected.detach().numpy(),
                               rtol=1e-11, atol=1e-12)
    for actual, tensor in zip(norm.layernorm_backward(dout, x, gamma), (x_t, gamma_t, beta_t)):
        np.testing.assert_allclose(actual, tensor.grad.numpy(), rtol=1e-10, atol=1e-11)


def test_one_sample_batch_norm_outputs_beta_and_passes_no_gradient_to_x():
    """N = 1 (which torch refuses): the batch variance is 0, so every output is beta."""
    x, gamma, beta, _, _, dout = bn_arrays((1, 4), seed=3)
    out, new_mean, new_var = norm.batchnorm_forward(x, gamma, beta)
    np.testing.assert_allclose(out, beta[None], atol=1e-15)
    np.testing.assert_allclose(new_mean, 0.1 * x[0], rtol=1e-15)
    np.testing.assert_array_equal(new_var, 0.0)
    dx, dgamma, _ = norm.batchnorm_backward(dout, x, gamma)
    np.testing.assert_allclose(dx, 0.0, atol=1e-15)
    np.testing.assert_allclose(dgamma, 0.0, atol=1e-15)


# --- finite differences -------------------------------------------------------------------------

@pytest.mark.parametrize("layout, shape", [("rows", (1, 3)), ("rows", (4, 3)), ("spatial", (2, 3, 2, 3)),
                                           ("spatial", (1, 1, 1, 3))])
@pytest.mark.parametrize("mode", ["train", "test"])
def test_batchnorm_backward_matches_finite_differences(layout, shape, mode):
    forward, backward, _, _ = BATCH_NORMS[layout]
    x, gamma, beta, running_mean, running_var, dout = bn_arrays(shape, seed=sum(shape))
    stats = (running_mean, running_var)

    def out_of(x_, gamma_, beta_):
        return forward(x_, gamma_, beta_, *stats, mode=mode).out

    dx, dgamma, dbeta = backward(dout, x, gamma, *stats, mode=mode)
    assert_rel_close(dx, numeric_gradient(lambda v: out_of(v, gamma, beta), x, dout), tol=1e-6, name="dx")
    assert_rel_close(dgamma, numeric_gradient(lambda v: out_of(x, v, beta), gamma, dout), name="dgamma")
    assert_rel_close(dbeta, numeric_gradient(lambda v: out_of(x, gamma, v), beta, dout), name="dbeta")


@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (2, 5)])
def test_layernorm_backward_matches_finite_differences(shape):
    x, gamma, beta, _, _, dout = bn_arrays(shape, seed=11)
    gamma, beta = np.linspace(-1, 2, shape[1]), np.linspace(0.5, -0.5, shape[1])
    dx, dgamma, dbeta = norm.layernorm_backward(dout, x, gamma)
    assert_rel_close(dx, numeric_gradient(lambda v: norm.layernorm_forward(v, gamma, beta), x, dout), tol=1e-6)
    assert_rel_close(dgamma, numeric_gradient(lambda v: norm.layernorm_forward(x, v, beta), gamma, dout))
    assert_rel_close(dbeta, numeric_gradient(lambda v: norm.layernorm_forward(x, gamma, v), beta, dout))


# --- loops, purity, dtypes ----------------------------------------------------------------------

@pytest.mark.parametrize("layout, shapes", [("rows", st.tuples(st.integers(1, 5), st.integers(1, 4))),
                                            ("spatial", nchw_shapes)])
@settings(max_examples=15)
@given(data=st.data(), seed=seeds, mode=modes, momentum=momenta)
def test_batchnorm_loops_equal_fast(layout, shapes, data, seed, mode, momentum):
    forward, backward, forward_loop, backward_loop = BATCH_NORMS[layout]
    x, gamma, beta, running_mean, running_var, dout = bn_arrays(data.draw(shapes), seed)
    stats = (running_mean, running_var)
    for loop, fast in zip(forward_loop(x, gamma, beta, *stats, mode=mode, momentum=momentum),
                          forward(x, gamma, beta, *stats, mode=mode, momentum=momentum)):
        np.testing.assert_allclose(loop, fast, rtol=1e-12, atol=1e-13)
    for loop, fast in zip(backward_loop(dout, x, gamma, *stats, mode=mode),
                          backward(dout, x, gamma, *stats, mode=mode)):
        np.testing.assert_allclose(loop, fast, rtol=1e-10, atol=1e-11)


@settings(max_examples=15)
@given(shape=st.tuples(st.integers(1, 5), st.integers(1, 6)), seed=seeds)
def test_layernorm_loops_equal_fast(shape, seed):
    x, gamma, beta, _, _, dout = bn_arrays(shape, seed)
    np.testing.assert_allclose(norm.layernorm_forward_loop(x, gamma, beta), norm.layernorm_forward(x, gamma, beta),
                               rtol=1e-12, atol=1e-13)
    for loop, fast in zip(norm.layernorm_backward_loop(dout, x, gamma), norm.layernorm_backward(dout, x, gamma)):
        np.testing.assert_allclose(loop, fast, rtol=1e-10, atol=1e-11)


def test_forward_returns_new_statistics_and_leaves_the_callers_arrays_alone():
    x, gamma, beta, running_mean, running_var, _ = bn_arrays((5, 3), seed=2)
    kept = [array.copy() for array in (x, gamma, beta, running_mean, running_var)]
    out, new_mean, new_var = norm.batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.9)
    for array, copy in zip((x, gamma, beta, running_mean, running_var), kept):
        np.testing.assert_array_equal(array, copy)
    np.testing.assert_allclose(new_mean, 0.9 * running_mean + 0.1 * x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(new_var, 0.9 * running_var + 0.1 * x.var(axis=0), rtol=1e-14)
    fresh_mean, fresh_var = norm.batchnorm_forward(x, gamma, beta)[1:]  # CS231n starts the statistics at 0
    np.testing.assert_allclose(fresh_mean, 0.1 * x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(fresh_var, 0.1 * x.var(axis=0), rtol=1e-14)
    test_out, same_mean, same_var = norm.batchnorm_forward(x, gamma, beta, new_mean, new_var, mode="test")
    np.testing.assert_array_equal(same_mean, new_mean)
    np.testing.assert_array_equal(same_var, new_var)


@pytest.mark.parametrize("layout, shape", [("rows", (6, 4)), ("spatial", (2, 3, 4, 4))])
def test_float32_in_float32_out(layout, shape):
    forward, backward, _, _ = BATCH_NORMS[layout]
    arrays64 = bn_arrays(shape, seed=5)
    arrays32 = [array.astype(np.float32) for array in arrays64]
    for results32, results64 in ((forward(*arrays32[:5]), forward(*arrays64[:5])),
                                 (backward(arrays32[5], arrays32[0], arrays32[1]),
                                  backward(arrays64[5], arrays64[0], arrays64[1]))):
        for value32, value64 in zip(results32, results64):
            assert value32.dtype == np.float32
            np.testing.assert_allclose(value32, value64, rtol=1e-4, atol=1e-5)
    x, gamma, beta = arrays32[:3]
    assert norm.layernorm_forward(x.reshape(shape[0], -1), np.ones(x[0].size, np.float32),
                                  np.zeros(x[0].size, np.float32)).dtype == np.float32


@pytest.mark.parametrize("call, argument", [
    (lambda: norm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.ones(3), momentum=-0.1), "momentum"),
    (lambda: norm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.ones(3), momentum=1.5), "momentum"),
    (lambda: norm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.ones(3), eps=0.0), "eps"),
    (lambda: norm.batchnorm_forward(np.ones((2, 3)), np.ones(2), np.ones(3)), "gamma"),
    (lambda: norm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.ones(4)), "beta"),
    (lambda: norm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.ones(3), np.ones(2)), "running_mean"),
    (lambda: norm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.ones(3), mode="eval"), "mode"),
    (lambda: norm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.ones(3), mode="test"), "running_mean"),
    (lambda: norm.batchnorm_forward(np.ones((0, 3)), np.ones(3), np.ones(3)), "x"),
    (lambda: norm.spatial_batchnorm_forward(np.ones((2, 3)), np.ones(3), np.ones(3)), "x"),
    (lambda: norm.spatial_batchnorm_backward(np.ones((2, 3, 1, 2)), np.ones((2, 3, 2, 1)), np.ones(3)), "dout"),
    (lambda: norm.layernorm_forward(np.ones((2, 3)), np.ones(3), np.ones(2)), "beta"),
    (lambda: norm.layernorm_backward(np.ones((2, 2)), np.ones((2, 3)), np.ones(3)), "dout"),
])
def test_invalid_arguments_name_the_argument(call, argument):
    with pytest.raises(LayerArgumentError, match=rf"^{argument}\b"):
        call()
