"""The computation graph: accumulation into a shared node, equality with the hand-chained layers and with
reference.layers.residual, finite differences through a small residual network, errors."""
from __future__ import annotations

import numpy as np
import pytest

from reference.errors import LayerArgumentError
from reference.graph import Graph
from reference.layers import activations, dense, losses, norm, residual

from _gradcheck import assert_rel_close, numeric_gradient


def test_a_node_feeding_two_children_gets_the_sum_of_their_gradients():
    values = np.array([[-1.5, 0.5], [2.0, -0.25]])
    graph = Graph()
    x = graph.input("x", values)
    y = graph.add(graph.relu(x), x)      # x reaches y directly and through the relu
    graph.forward()
    graph.backward(y)
    np.testing.assert_array_equal(x.grad, (values > 0) + 1.0)
    graph.backward(y)                    # zeroed first: a second pass does not double it
    np.testing.assert_array_equal(x.grad, (values > 0) + 1.0)


def mlp_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((5, 4)), "w1": rng.standard_normal((4, 6)), "b1": rng.standard_normal((1, 6)),
            "w2": rng.standard_normal((6, 3)), "b2": rng.standard_normal(3), "labels": rng.integers(0, 3, 5)}


def test_mlp_gradients_equal_the_hand_chained_layers():
    """The course's exp 2-1 chain: fc1 -> relu -> fc2 -> softmax cross-entropy, backward in reverse."""
    arrays = mlp_arrays()
    graph = Graph()
    x = graph.input("x", arrays["x"])
    params = {name: graph.parameter(name, arrays[name]) for name in ("w1", "b1", "w2", "b2")}
    hidden = graph.relu(graph.dense(x, params["w1"], params["b1"]))
    loss = graph.softmax_cross_entropy(graph.dense(hidden, params["w2"], params["b2"]), arrays["labels"])
    graph.forward()
    graph.backward(loss)

    h1 = dense.fc_forward(arrays["x"], arrays["w1"], arrays["b1"])
    h2 = activations.relu_forward(h1)
    scores = dense.fc_forward(h2, arrays["w2"], arrays["b2"])
    expected_loss, dscores = losses.softmax_cross_entropy(scores, arrays["labels"])
    dh2, dw2, db2 = dense.fc_backward(dscores, h2, arrays["w2"], arrays["b2"])
    dx, dw1, db1 = dense.fc_backward(activations.relu_backward(dh2, h1), arrays["x"], arrays["w1"], arrays["b1"])

    np.testing.assert_array_equal(loss.value, expected_loss)
    for node, expected in ((x, dx), (params["w1"], dw1), (params["b1"], db1), (params["w2"], dw2),
                           (params["b2"], db2)):
        np.testing.assert_array_equal(node.grad, expected, err_msg=node.name)
    assert graph.parameters() == list(params.values())


def test_tied_weights_accumulate_both_uses():
    """One weight used by two layers: its gradient is the sum of the two layers' dweight."""
    rng = np.random.default_rng(1)
    x_value, w_value, zeros = rng.standard_normal((3, 4)), rng.standard_normal((4, 4)), np.zeros(4)
    graph = Graph()
    w = graph.parameter("w", w_value)
    b = graph.input("b", zeros)
    first = graph.dense(graph.input("x", x_value), w, b)
    second = graph.dense(first, w, b)
    graph.forward()
    graph.backward(second)
    h = x_value @ w_value
    _, dw_second, _ = dense.fc_backward(np.ones((3, 4)), h, w_value, zeros)
    dh = np.ones((3, 4)) @ w_value.T
    _, dw_first, _ = dense.fc_backward(dh, x_value, w_value, zeros)
    np.testing.assert_allclose(w.grad, dw_first + dw_second, rtol=1e-14)


def graph_basic_block(graph, x, params, stride):
    """The basic block from graph nodes (framework notes 五.2 ResidualCNNBlock)."""
    def conv_bn(h, conv, bn, stride_, padding):
        return graph.batch_norm(graph.conv(h, params[f"{conv}.weight"], stride_, padding),
                                params[f"{bn}.gamma"], params[f"{bn}.beta"])

    out = conv_bn(graph.relu(conv_bn(x, "conv1", "bn1", stride, 1)), "conv2", "bn2", 1, 1)
    shortcut = conv_bn(x, "shortcut.conv", "shortcut.bn", stride, 0) if "shortcut.conv.weight" in params else x
    return graph.relu(graph.add(out, shortcut))


@pytest.mark.parametrize("channels_in, channels_out, stride", [(3, 3, 1), (2, 4, 2)])
def test_residual_block_in_the_graph_equals_reference_residual(channels_in, channels_out, stride):
    rng = np.random.default_rng(2)
    param_values = residual.basic_block_params(channels_in, channels_out, stride, seed=3)
    x_value = rng.standard_normal((2, channels_in, 5, 5))
    graph = Graph()
    x = graph.input("x", x_value)
    params = {key: graph.parameter(key, value) for key, value in param_values.items()}
    out = graph_basic_block(graph, x, params, stride)
    graph.forward()
    graph.backward(out)
    expected_out, expected_stats = residual.basic_block_forward(x_value, param_values, stride)
    expected_dx, expected_grads = residual.basic_block_backward(np.ones_like(expected_out), x_value,
                                                                param_values, stride)
    np.testing.assert_allclose(out.value, expected_out, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(x.grad, expected_dx, rtol=1e-12, atol=1e-13)
    for key, node in params.items():
        np.testing.assert_allclose(node.grad, expected_grads[key], rtol=1e-12, atol=1e-13, err_msg=key)
    bn1 = next(node for node in graph.nodes if node.name.startswith("batch_norm"))
    np.testing.assert_allclose(bn1.state["running_mean"], expected_stats["bn1.running_mean"], rtol=1e-14)


def small_residual_network(seed=4):
    """stem conv-BN-ReLU, a basic block with a projection (stride 2), global average pool, dense, loss."""
    rng = np.random.default_rng(seed)
    graph = Graph()
    x = graph.input("x", rng.standard_normal((2, 2, 4, 4)))
    stem_weight = graph.parameter("stem.weight", rng.standard_normal((3, 2, 3, 3)) * 0.5)
    stem_gamma = graph.parameter("stem.gamma", rng.uniform(0.5, 1.5, 3))
    stem_beta = graph.parameter("stem.beta", rng.standard_normal(3))
    stem = graph.relu(graph.batch_norm(graph.conv(x, stem_weight, 1, "same"), stem_gamma, stem_beta))
    block_values = residual.basic_block_params(3, 4, 2, seed=seed)
    for key in block_values:
        if key.endswith((".gamma", ".beta")):
            block_values[key] = rng.uniform(0.5, 1.5, 4) if key.endswith("gamma") else rng.standard_normal(4)
    params = {key: graph.parameter(key, value) for key, value in block_values.items()}
    features = graph.flatten(graph.global_avg_pool(graph_basic_block(graph, stem, params, 2)))
    scores = graph.dense(features, graph.parameter("fc.weight", rng.standard_normal((4, 3))),
                         graph.parameter("fc.bias", rng.standard_normal(3)))
    return graph, x, graph.softmax_cross_entropy(scores, [2, 0])


def test_residual_network_gradients_match_finite_differences():
    graph, x, loss = small_residual_network()
    graph.forward()
    graph.backward(loss)

    def loss_with(node, value):
        original = node.value
        node.value = value
        graph.forward()
        node.value = original
        return loss.value

    for node in [x] + graph.parameters():
        analytic = node.grad.copy()
        assert_rel_close(analytic, numeric_gradient(lambda v: loss_with(node, v), node.value), tol=1e-6,
                         name=node.name)


def test_batch_norm_node_keeps_running_statistics_and_uses_them_in_test_mode():
    rng = np.random.default_rng(6)
    x_value, gamma, beta = rng.standard_normal((4, 3)) + 2, rng.standard_normal(3), rng.standard_normal(3)
    graph = Graph()
    x = graph.input("x", x_value)
    train = graph.batch_norm(x, graph.parameter("gamma", gamma), graph.parameter("beta", beta))
    graph.forward()
    expected = norm.batchnorm_forward(x_value, gamma, beta)
    np.testing.assert_allclose(train.state["running_mean"], expected.running_mean, rtol=1e-15)
    test_graph = Graph()
    test_node = test_graph.batch_norm(test_graph.input("x", x_value), test_graph.input("gamma", gamma),
                                      test_graph.input("beta", beta), mode="test",
                                      running_mean=expected.running_mean, running_var=expected.running_var)
    test_graph.forward()
    np.testing.assert_allclose(test_node.value, norm.batchnorm_forward(
        x_value, gamma, beta, expected.running_mean, expected.running_var, mode="test").out, rtol=1e-15)


def test_misuse_is_refused_with_the_reason():
    graph, other = Graph(), Graph()
    stranger = other.input("stranger", np.ones(2))
    with pytest.raises(LayerArgumentError, match="not a node of this graph"):
        graph.relu(stranger)
    y = graph.relu(graph.input("x", np.ones(2)))
    with pytest.raises(LayerArgumentError, match="call forward"):
        graph.backward(y)
    with pytest.raises(LayerArgumentError, match="not a node of this graph"):
        graph.backward(stranger)
    z = graph.add(y, graph.input("w", np.ones(3)))
    with pytest.raises(LayerArgumentError, match="equal shapes"):
        graph.forward()
    assert z.value is None
