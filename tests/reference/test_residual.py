"""Residual blocks: the same blocks written with torch.nn.functional and autograd, finite differences,
purity, dtypes, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference.errors import LayerArgumentError
from reference.layers import residual

from _gradcheck import assert_rel_close, numeric_gradient

BLOCKS = {
    "basic": (residual.basic_block_forward, residual.basic_block_backward),
    "bottleneck": (residual.bottleneck_block_forward, residual.bottleneck_block_backward),
}
# (kind, channels_in, width, channels_out, stride): identity shortcuts and every reason for a projection
CONFIGS = [
    ("basic", 3, None, 3, 1),
    ("basic", 2, None, 4, 1),
    ("basic", 3, None, 3, 2),
    ("basic", 2, None, 3, 2),
    ("bottleneck", 4, 2, 4, 1),
    ("bottleneck", 3, 2, 5, 1),
    ("bottleneck", 4, 2, 4, 2),
]


def block_setup(kind, channels_in, width, channels_out, stride, batch, size, seed):
    """x, params (with random gamma and beta), running statistics, and dout of the output's shape."""
    rng = np.random.default_rng(seed)
    if kind == "basic":
        params = residual.basic_block_params(channels_in, channels_out, stride, seed)
    else:
        params = residual.bottleneck_block_params(channels_in, width, channels_out, stride, seed)
    for key in params:
        if key.endswith((".gamma", ".beta")):
            params[key] = rng.standard_normal(params[key].shape)
    stats = {}
    for key in params:
        if key.endswith(".gamma"):
            bn = key[:-len(".gamma")]
            stats[f"{bn}.running_mean"] = rng.standard_normal(params[key].shape)
            stats[f"{bn}.running_var"] = rng.uniform(0.5, 2, params[key].shape)
    x = rng.standard_normal((batch, channels_in, size, size))
    out_size = (size - 1) // stride + 1
    return x, params, stats, rng.standard_normal((batch, channels_out, out_size, out_size))


def torch_block(torch, kind, x, params, stats, stride, mode, dout):
    """(out, dx, grads, new running statistics, values per BN layer) by F.conv2d / F.batch_norm / autograd."""
    functional = torch.nn.functional
    tensors = {key: torch.tensor(value, requires_grad=True) for key, value in params.items()}
    running = {key: torch.tensor(value) for key, value in stats.items()}
    counts = {}

    def conv(h, name, stride_):
        weight = tensors[f"{name}.weight"]
        return functional.conv2d(h, weight, stride=stride_, padding=weight.shape[-1] // 2)

    def bn(h, name):
        counts[name] = h.numel() // h.shape[1]
        return functional.batch_norm(h, running[f"{name}.running_mean"], running[f"{name}.running_var"],
                                     tensors[f"{name}.gamma"], tensors[f"{name}.beta"],
                                     training=mode == "train", momentum=0.1, eps=1e-5)

    x_t = torch.tensor(x, requires_grad=True)
    if kind == "basic":
        h = bn(conv(functional.relu(bn(conv(x_t, "conv1", stride), "bn1")), "conv2", 1), "bn2")
    else:
        h = functional.relu(bn(conv(x_t, "conv1", 1), "bn1"))
        h = functional.relu(bn(conv(h, "conv2", stride), "bn2"))
        h = bn(conv(h, "conv3", 1), "bn3")
    shortcut = bn(conv(x_t, "shortcut.conv", stride), "shortcut.bn") if "shortcut.conv.weight" in params else x_t
    out = functional.relu(h + shortcut)
    out.backward(torch.tensor(dout))
    grads = {key: tensor.grad.numpy() for key, tensor in tensors.items()}
    return out.detach().numpy(), x_t.grad.numpy(), grads, {key: value.numpy() for key, value in running.items()}, counts


@pytest.mark.parametrize("config", CONFIGS, ids=lambda config: "-".join(map(str, config)))
@settings(max_examples=4)
@given(batch=st.integers(1, 3), size=st.integers(2, 5), seed=st.integers(0, 2**32 - 1),
       mode=st.sampled_from(["train", "test"]))
def test_block_matches_torch(config, batch, size, seed, mode):
    torch = pytest.importorskip("torch")
    kind, _, _, _, stride = config
    forward, backward = BLOCKS[kind]
    x, params, stats, dout = block_setup(*config, batch, size, seed)
    # torch refuses batch statistics over a single value
    assume(mode == "test" or batch * ((size - 1) // stride + 1) ** 2 > 1)
    out_t, dx_t, grads_t, stats_t, counts = torch_block(torch, kind, x, params, stats, stride, mode, dout)
    out, new_stats = forward(x, params, stride, stats, mode=mode)
    np.testing.assert_allclose(out, out_t, rtol=1e-10, atol=1e-10)
    dx, grads = backward(dout, x, params, stride, stats, mode=mode)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-9, atol=1e-10)
    assert grads.keys() == params.keys()
    for key, grad in grads.items():
        np.testing.assert_allclose(grad, grads_t[key], rtol=1e-9, atol=1e-10, err_msg=key)
    for key, value in new_stats.items():
        expected = stats_t[key]
        if key.endswith("running_var") and mode == "train":
            count = counts[key[:-len(".running_var")]]  # torch's share uses the unbiased variance
            expected = 0.9 * stats[key] + (expected - 0.9 * stats[key]) * (count - 1) / count
        np.testing.assert_allclose(value, expected, rtol=1e-11, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("config", [CONFIGS[2], CONFIGS[6]], ids=["basic-projection", "bottleneck-projection"])
@pytest.mark.parametrize("mode", ["train", "test"])
def test_block_backward_matches_finite_differences(config, mode):
    kind, _, _, _, stride = config
    forward, backward = BLOCKS[kind]
    x, params, stats, dout = block_setup(*config, batch=2, size=4, seed=21)
    dx, grads = backward(dout, x, params, stride, stats, mode=mode)

    def out_with(key, value):
        return forward(x, {**params, key: value}, stride, stats, mode=mode).out

    assert_rel_close(dx, numeric_gradient(lambda v: forward(v, params, stride, stats, mode=mode).out, x, dout),
                     tol=1e-6, name="dx")
    for key, value in params.items():
        assert_rel_close(grads[key], numeric_gradient(lambda v: out_with(key, v), value, dout), tol=1e-6, name=key)


def test_identity_shortcut_passes_the_gradient_straight_through():
    """With the main branch's last BN at gamma = beta = 0, out = relu(x) and dx = dout * [x > 0]."""
    x, params, stats, dout = block_setup("basic", 3, None, 3, 1, batch=2, size=3, seed=5)
    params["bn2.gamma"], params["bn2.beta"] = np.zeros(3), np.zeros(3)
    out, _ = residual.basic_block_forward(x, params)
    np.testing.assert_allclose(out, np.maximum(x, 0), atol=1e-15)
    dx, grads = residual.basic_block_backward(dout, x, params)
    np.testing.assert_allclose(dx, dout * (x > 0), atol=1e-15)
    np.testing.assert_allclose(grads["conv1.weight"], 0, atol=1e-15)


def test_blocks_are_pure():
    x, params, stats, dout = block_setup("basic", 2, None, 3, 2, batch=2, size=4, seed=3)
    kept = {key: value.copy() for key, value in {**params, **stats, "x": x}.items()}
    residual.basic_block_forward(x, params, 2, stats)
    residual.basic_block_backward(dout, x, params, 2, stats)
    for key, value in {**params, **stats, "x": x}.items():
        np.testing.assert_array_equal(value, kept[key], err_msg=key)


def test_float32_in_float32_out():
    x, params, stats, dout = block_setup("bottleneck", 3, 2, 5, 2, batch=2, size=5, seed=4)
    to32 = {key: value.astype(np.float32) for key, value in params.items()}
    out32, stats32 = residual.bottleneck_block_forward(x.astype(np.float32), to32, 2)
    out64, _ = residual.bottleneck_block_forward(x, params, 2)
    assert out32.dtype == np.float32 and all(value.dtype == np.float32 for value in stats32.values())
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-4)
    dx32, grads32 = residual.bottleneck_block_backward(dout.astype(np.float32), x.astype(np.float32), to32, 2)
    dx64, grads64 = residual.bottleneck_block_backward(dout, x, params, 2)
    assert dx32.dtype == np.float32
    np.testing.assert_allclose(dx32, dx64, rtol=1e-3, atol=1e-4)
    for key in grads64:
        assert grads32[key].dtype == np.float32
        np.testing.assert_allclose(grads32[key], grads64[key], rtol=1e-3, atol=1e-3, err_msg=key)


def test_invalid_parameters_are_named():
    x, params, _, _ = block_setup("basic", 3, None, 3, 1, batch=1, size=3, seed=0)
    with pytest.raises(LayerArgumentError, match=r"^params .*projection.*missing \['shortcut"):
        residual.basic_block_forward(x, params, stride=2)
    with pytest.raises(LayerArgumentError, match=r"^params .*unexpected \['extra'\]"):
        residual.basic_block_forward(x, {**params, "extra": np.ones(1)})
    with pytest.raises(LayerArgumentError, match=r"^params\['conv2.weight'\] must be an OIHW 3x3"):
        residual.basic_block_forward(x, {**params, "conv2.weight": np.ones((3, 3, 1, 1))})
    with pytest.raises(LayerArgumentError, match=r"^stride"):
        residual.basic_block_forward(x, params, stride=0)
    with pytest.raises(LayerArgumentError, match=r"^running_mean"):
        residual.basic_block_forward(x, params, mode="test")
