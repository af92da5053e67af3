"""AICS fully connected and CS231n affine layers: PyTorch, finite differences, loops, dtypes, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.errors import LayerArgumentError
from reference.layers import dense

from _gradcheck import assert_rel_close, numeric_gradient

sizes = st.integers(1, 5)
seeds = st.integers(0, 2**32 - 1)
bias_shapes = st.sampled_from(["row", "flat"])


def fc_arrays(batch, num_input, num_output, bias_shape, seed):
    """x [N, in], weight [in, out], bias [1, out] or [out], dout [N, out]."""
    rng = np.random.default_rng(seed)
    bias = rng.standard_normal(num_output)
    return (rng.standard_normal((batch, num_input)), rng.standard_normal((num_input, num_output)),
            bias.reshape(1, -1) if bias_shape == "row" else bias, rng.standard_normal((batch, num_output)))


@settings(max_examples=30)
@given(batch=sizes, num_input=sizes, num_output=sizes, bias_shape=bias_shapes, seed=seeds)
def test_fc_matches_torch_linear(batch, num_input, num_output, bias_shape, seed):
    torch = pytest.importorskip("torch")
    x, weight, bias, dout = fc_arrays(batch, num_input, num_output, bias_shape, seed)
    tensors = [torch.tensor(array, requires_grad=True) for array in (x, weight, bias)]
    x_t, weight_t, bias_t = tensors
    expected = torch.nn.functional.linear(x_t, weight_t.T, bias_t.reshape(-1))
    expected.backward(torch.tensor(dout))
    np.testing.assert_allclose(dense.fc_forward(x, weight, bias), expected.detach().numpy(), rtol=1e-12, atol=1e-13)
    for actual, tensor in zip(dense.fc_backward(dout, x, weight, bias), tensors):
        assert actual.shape == tuple(tensor.shape)
        np.testing.assert_allclose(actual, tensor.grad.numpy(), rtol=1e-12, atol=1e-13)


@settings(max_examples=20)
@given(batch=sizes, features=st.tuples(sizes, sizes), num_output=sizes, seed=seeds)
def test_affine_matches_torch_on_multi_axis_input(batch, features, num_output, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + features)
    w = rng.standard_normal((features[0] * features[1], num_output))
    b, dout = rng.standard_normal(num_output), rng.standard_normal((batch, num_output))
    tensors = [torch.tensor(array, requires_grad=True) for array in (x, w, b)]
    x_t, w_t, b_t = tensors
    expected = torch.nn.functional.linear(x_t.reshape(batch, -1), w_t.T, b_t)
    expected.backward(torch.tensor(dout))
    np.testing.assert_allclose(dense.affine_forward(x, w, b), expected.detach().numpy(), rtol=1e-12, atol=1e-13)
    for actual, tensor in zip(dense.affine_backward(dout, x, w, b), tensors):
        assert actual.shape == tuple(tensor.shape)
        np.testing.assert_allclose(actual, tensor.grad.numpy(), rtol=1e-12, atol=1e-13)


@settings(max_examples=10)
@given(batch=sizes, num_input=sizes, num_output=sizes, bias_shape=bias_shapes, seed=seeds)
def test_fc_backward_matches_finite_differences(batch, num_input, num_output, bias_shape, seed):
    x, weight, bias, dout = fc_arrays(batch, num_input, num_output, bias_shape, seed)
    dx, dweight, dbias = dense.fc_backward(dout, x, weight, bias)
    assert_rel_close(dx, numeric_gradient(lambda v: dense.fc_forward(v, weight, bias), x, dout), name="dx")
    assert_rel_close(dweight, numeric_gradient(lambda v: dense.fc_forward(x, v, bias), weight, dout), name="dweight")
    assert_rel_close(dbias, numeric_gradient(lambda v: dense.fc_forward(x, weight, v), bias, dout), name="dbias")


def test_affine_backward_matches_finite_differences():
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((2, 3, 2)), rng.standard_normal((6, 4)), rng.standard_normal(4)
    dout = rng.standard_normal((2, 4))
    dx, dw, db = dense.affine_backward(dout, x, w, b)
    assert_rel_close(dx, numeric_gradient(lambda v: dense.affine_forward(v, w, b), x, dout), name="dx")
    assert_rel_close(dw, numeric_gradient(lambda v: dense.affine_forward(x, v, b), w, dout), name="dw")
    assert_rel_close(db, numeric_gradient(lambda v: dense.affine_forward(x, w, v), b, dout), name="db")


@settings(max_examples=20)
@given(batch=sizes, num_input=sizes, num_output=sizes, bias_shape=bias_shapes, seed=seeds)
def test_fc_loops_equal_fast(batch, num_input, num_output, bias_shape, seed):
    x, weight, bias, dout = fc_arrays(batch, num_input, num_output, bias_shape, seed)
    np.testing.assert_allclose(dense.fc_forward_loop(x, weight, bias), dense.fc_forward(x, weight, bias),
                               rtol=1e-13, atol=1e-14)
    for loop, fast in zip(dense.fc_backward_loop(dout, x, weight, bias), dense.fc_backward(dout, x, weight, bias)):
        assert loop.shape == fast.shape
        np.testing.assert_allclose(loop, fast, rtol=1e-13, atol=1e-14)


def test_affine_loops_equal_fast():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((3, 2, 2)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((3, 5))
    np.testing.assert_allclose(dense.affine_forward_loop(x, w, b), dense.affine_forward(x, w, b), rtol=1e-13)
    for loop, fast in zip(dense.affine_backward_loop(dout, x, w, b), dense.affine_backward(dout, x, w, b)):
        np.testing.assert_allclose(loop, fast, rtol=1e-13, atol=1e-14)


def test_course_example_bias_gradient_keeps_the_row_shape():
    """The course stores d_bias [1, out] (ones([1, N]) @ top_diff); a flat bias gets a flat gradient."""
    x, weight, row_bias, dout = fc_arrays(3, 2, 4, "row", seed=0)
    assert dense.fc_backward(dout, x, weight, row_bias)[2].shape == (1, 4)
    assert dense.fc_backward(dout, x, weight, row_bias.ravel())[2].shape == (4,)
    np.testing.assert_allclose(dense.fc_backward(dout, x, weight, row_bias)[2], np.ones((1, 3)) @ dout)


def test_float32_in_float32_out():
    arrays64 = fc_arrays(4, 3, 5, "row", seed=1)
    arrays32 = [array.astype(np.float32) for array in arrays64]
    out32 = dense.fc_forward(*arrays32[:3])
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, dense.fc_forward(*arrays64[:3]), rtol=1e-5, atol=1e-6)
    for grad32, grad64 in zip(dense.fc_backward(arrays32[3], *arrays32[:3]),
                              dense.fc_backward(arrays64[3], *arrays64[:3])):
        assert grad32.dtype == np.float32
        np.testing.assert_allclose(grad32, grad64, rtol=1e-5, atol=1e-6)
    integers = np.ones((1, 2), np.int64), np.ones((2, 1), np.int64), np.ones(1, np.int64)
    assert dense.fc_forward(*integers).dtype == np.float64


@pytest.mark.parametrize("call, argument", [
    (lambda: dense.fc_forward(np.ones((2, 3)), np.ones((4, 5)), np.ones(5)), "weight"),
    (lambda: dense.fc_forward(np.ones((2, 3)), np.ones((3, 5)), np.ones((2, 5))), "bias"),
    (lambda: dense.fc_forward(np.ones(3), np.ones((3, 5)), np.ones(5)), "x"),
    (lambda: dense.fc_backward(np.ones((2, 4)), np.ones((2, 3)), np.ones((3, 5)), np.ones(5)), "dout"),
    (lambda: dense.affine_forward(np.ones((2, 3, 2)), np.ones((5, 4)), np.ones(4)), "w"),
    (lambda: dense.affine_forward(np.ones((2, 3, 2)), np.ones((6, 4)), np.ones((1, 4))), "b"),
    (lambda: dense.affine_forward(np.ones(6), np.ones((6, 4)), np.ones(4)), "x"),
])
def test_invalid_arguments_name_the_argument(call, argument):
    with pytest.raises(LayerArgumentError, match=rf"^{argument}\b"):
        call()
