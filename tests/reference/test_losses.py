"""Softmax, log-softmax and the losses: PyTorch, the notes' worked examples, finite differences, loops,
dtypes, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.errors import LayerArgumentError
from reference.layers import losses

from _gradcheck import assert_rel_close, numeric_gradient

batches = st.integers(1, 5)
classes = st.integers(1, 6)
seeds = st.integers(0, 2**32 - 1)


def scores_and_labels(batch, num_classes, seed, scale=3.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, num_classes)) * scale, rng.integers(0, num_classes, batch)


def probabilities(shape, seed):
    """prob in (0.05, 0.95) and a target mixing hard 0/1 labels and soft values."""
    rng = np.random.default_rng(seed)
    target = rng.random(shape)
    hard = rng.random(shape) < 0.5
    target[hard] = rng.integers(0, 2, shape)[hard]
    return rng.uniform(0.05, 0.95, shape), target


# --- against PyTorch ----------------------------------------------------------------------------

@settings(max_examples=25)
@given(batch=batches, num_classes=classes, seed=seeds)
def test_softmax_and_log_softmax_match_torch(batch, num_classes, seed):
    torch = pytest.importorskip("torch")
    logits, _ = scores_and_labels(batch, num_classes, seed)
    dout = np.random.default_rng(seed + 1).standard_normal(logits.shape)
    for function, backward, torch_function in (
            (losses.softmax, losses.softmax_backward, torch.nn.functional.softmax),
            (losses.log_softmax, losses.log_softmax_backward, torch.nn.functional.log_softmax)):
        logits_t = torch.tensor(logits, requires_grad=True)
        expected = torch_function(logits_t, dim=1)
        expected.backward(torch.tensor(dout))
        np.testing.assert_allclose(function(logits), expected.detach().numpy(), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(backward(dout, logits), logits_t.grad.numpy(), rtol=1e-12, atol=1e-14)


@settings(max_examples=25)
@given(batch=batches, num_classes=classes, seed=seeds)
def test_softmax_cross_entropy_and_aics_layer_match_torch_cross_entropy(batch, num_classes, seed):
    torch = pytest.importorskip("torch")
    logits, labels = scores_and_labels(batch, num_classes, seed)
    logits_t = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(logits_t, torch.tensor(labels), reduction="mean")
    expected.backward()
    loss, dlogits = losses.softmax_cross_entropy(logits, labels)
    np.testing.assert_allclose(loss, expected.item(), rtol=1e-13)
    np.testing.assert_allclose(dlogits, logits_t.grad.numpy(), rtol=1e-12, atol=1e-15)
    prob, aics_loss, bottom_diff = losses.aics_softmax_loss(logits, labels)
    np.testing.assert_allclose(prob, torch.softmax(logits_t, dim=1).detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(aics_loss, expected.item(), rtol=1e-12)
    np.testing.assert_allclose(bottom_diff, logits_t.grad.numpy(), rtol=1e-12, atol=1e-15)


@settings(max_examples=25)
@given(shape=st.tuples(batches, classes), seed=seeds)
def test_binary_cross_entropy_matches_torch_mean_over_elements(shape, seed):
    torch = pytest.importorskip("torch")
    prob, target = probabilities(shape, seed)
    prob_t = torch.tensor(prob, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy(prob_t, torch.tensor(target), reduction="mean")
    expected.backward()
    loss, dprob = losses.binary_cross_entropy(prob, target)
    np.testing.assert_allclose(loss, expected.item(), rtol=1e-13)
    np.testing.assert_allclose(dprob, prob_t.grad.numpy(), rtol=1e-12, atol=1e-15)


@settings(max_examples=25)
@given(batch=batches, num_classes=classes, seed=seeds)
def test_svm_loss_is_torch_multi_margin_loss_times_classes(batch, num_classes, seed):
    """torch divides each sample's hinge sum by C; CS231n does not."""
    torch = pytest.importorskip("torch")
    scores, labels = scores_and_labels(batch, num_classes, seed, scale=0.7)
    scores_t = torch.tensor(scores, requires_grad=True)
    expected = torch.nn.functional.multi_margin_loss(scores_t, torch.tensor(labels), p=1, margin=1.0,
                                                     reduction="mean") * num_classes
    expected.backward()
    loss, dscores = losses.svm_loss(scores, labels)
    np.testing.assert_allclose(loss, expected.item(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dscores, scores_t.grad.numpy(), rtol=1e-12, atol=1e-15)


# --- the sources' own examples ------------------------------------------------------------------

def test_binary_cross_entropy_follows_the_framework_notes_examples():
    """Notes 三.2: [0.8, 0.1, 0.1] against [1, 0, 0] is -(log 0.8 + log 0.9 + log 0.9) / 3, and a
    [2, 3] batch divides by 6, so n counts elements, not samples."""
    loss, dprob = losses.binary_cross_entropy([[0.8, 0.1, 0.1]], [[1, 0, 0]])
    np.testing.assert_allclose(loss, -(np.log(0.8) + 2 * np.log(0.9)) / 3, rtol=1e-15)
    np.testing.assert_allclose(dprob, [[-1 / (3 * 0.8), 1 / (3 * 0.9), 1 / (3 * 0.9)]], rtol=1e-15)
    prob = np.array([[0.7, 0.2, 0.4], [0.1, 0.6, 0.3]])
    target = np.array([[1, 0, 0], [0, 1, 0]])
    expected = -(np.log(0.7) + np.log(0.8) + np.log(0.6) + np.log(0.9) + np.log(0.6) + np.log(0.7)) / 6
    np.testing.assert_allclose(losses.binary_cross_entropy(prob, target)[0], expected, rtol=1e-15)


def test_aics_cross_entropy_equals_the_course_formula():
    """loss = -np.sum(np.log(prob) * label_onehot) / batch_size, exactly as layers_1 writes it."""
    logits, labels = scores_and_labels(6, 10, seed=4)
    prob = losses.softmax(logits)
    onehot = np.eye(10)[labels]
    np.testing.assert_allclose(losses.aics_cross_entropy(prob, labels), -np.sum(np.log(prob) * onehot) / 6,
                               rtol=1e-14)
    np.testing.assert_allclose(losses.aics_softmax_backward(prob, labels), (prob - onehot) / 6, rtol=1e-15)


def test_softmax_survives_huge_logits():
    logits = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    with np.errstate(all="raise"):
        prob = losses.softmax(logits)
        loss, _ = losses.softmax_cross_entropy(logits, [1, 0])
        loop = losses.softmax_loop(logits)
    np.testing.assert_allclose(prob[1], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(loop, prob, rtol=1e-15)
    np.testing.assert_allclose(loss, (-np.log(prob[0, 1]) - np.log(1 / 3)) / 2, rtol=1e-14)


# --- finite differences -------------------------------------------------------------------------

@settings(max_examples=10)
@given(batch=batches, num_classes=classes, seed=seeds)
def test_backwards_match_finite_differences(batch, num_classes, seed):
    # unit-scale logits: a saturated softmax has gradients near the difference quotient's roundoff
    logits, labels = scores_and_labels(batch, num_classes, seed, scale=1.0)
    dout = np.random.default_rng(seed + 1).standard_normal(logits.shape)
    assert_rel_close(losses.softmax_backward(dout, logits), numeric_gradient(losses.softmax, logits, dout),
                     name="softmax")
    assert_rel_close(losses.log_softmax_backward(dout, logits), numeric_gradient(losses.log_softmax, logits, dout),
                     name="log_softmax")
    assert_rel_close(losses.softmax_cross_entropy(logits, labels)[1],
                     numeric_gradient(lambda v: losses.softmax_cross_entropy(v, labels)[0], logits),
                     name="cross-entropy")
    assert_rel_close(losses.aics_softmax_loss(logits, labels)[2],
                     numeric_gradient(lambda v: losses.aics_cross_entropy(losses.softmax(v), labels), logits),
                     name="aics bottom_diff")
    # hinges are not differentiable where a margin is exactly 0: skip draws that come near one
    margins = logits - logits[np.arange(batch), labels][:, None] + 1
    if np.all(np.abs(margins) > 1e-4):
        assert_rel_close(losses.svm_loss(logits, labels)[1],
                         numeric_gradient(lambda v: losses.svm_loss(v, labels)[0], logits), name="svm")


@settings(max_examples=10)
@given(shape=st.tuples(batches, classes), seed=seeds)
def test_binary_cross_entropy_gradient_matches_finite_differences(shape, seed):
    prob, target = probabilities(shape, seed)
    assert_rel_close(losses.binary_cross_entropy(prob, target)[1],
                     numeric_gradient(lambda v: losses.binary_cross_entropy(v, target)[0], prob))


# --- loops, dtypes ------------------------------------------------------------------------------

@settings(max_examples=20)
@given(batch=batches, num_classes=classes, seed=seeds)
def test_loops_equal_fast(batch, num_classes, seed):
    logits, labels = scores_and_labels(batch, num_classes, seed)
    dout = np.random.default_rng(seed + 1).standard_normal(logits.shape)
    pairs = [
        (losses.softmax_loop(logits), losses.softmax(logits)),
        (losses.log_softmax_loop(logits), losses.log_softmax(logits)),
        (losses.softmax_backward_loop(dout, logits), losses.softmax_backward(dout, logits)),
        (losses.log_softmax_backward_loop(dout, logits), losses.log_softmax_backward(dout, logits)),
        *zip(losses.softmax_cross_entropy_loop(logits, labels), losses.softmax_cross_entropy(logits, labels)),
        *zip(losses.svm_loss_loop(logits, labels), losses.svm_loss(logits, labels)),
        *zip(losses.binary_cross_entropy_loop(*probabilities(logits.shape, seed)),
             losses.binary_cross_entropy(*probabilities(logits.shape, seed))),
    ]
    for loop, fast in pairs:
        np.testing.assert_allclose(loop, fast, rtol=1e-12, atol=1e-15)


def test_float32_in_float32_out():
    logits, labels = scores_and_labels(4, 5, seed=9)
    logits32 = logits.astype(np.float32)
    prob, target = probabilities((4, 5), seed=9)
    results = {
        "softmax": (losses.softmax(logits32), losses.softmax(logits)),
        "log_softmax": (losses.log_softmax(logits32), losses.log_softmax(logits)),
        "cross_entropy": (losses.softmax_cross_entropy(logits32, labels), losses.softmax_cross_entropy(logits, labels)),
        "aics": (losses.aics_softmax_loss(logits32, labels), losses.aics_softmax_loss(logits, labels)),
        "svm": (losses.svm_loss(logits32, labels), losses.svm_loss(logits, labels)),
        "bce": (losses.binary_cross_entropy(prob.astype(np.float32), target.astype(np.float32)),
                losses.binary_cross_entropy(prob, target)),
    }
    for name, (values32, values64) in results.items():
        for value32, value64 in zip(*map(_as_tuple, (values32, values64))):
            assert np.asarray(value32).dtype == np.float32, name
            np.testing.assert_allclose(value32, value64, rtol=2e-5, atol=1e-6, err_msg=name)


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


# --- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, argument", [
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), [0, 3]), "labels"),
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), [0, -1]), "labels"),
    (lambda: losses.svm_loss(np.zeros((2, 3)), [0.0, 1.0]), "labels"),
    (lambda: losses.aics_softmax_loss(np.zeros((2, 3)), [0, 1, 2]), "labels"),
    (lambda: losses.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, int)), "a loss"),
    (lambda: losses.softmax(np.zeros(3)), "logits"),
    (lambda: losses.softmax_backward(np.zeros((2, 2)), np.zeros((2, 3))), "dout"),
    (lambda: losses.binary_cross_entropy([[1.5]], [[1.0]]), "prob"),
    (lambda: losses.binary_cross_entropy([[0.5]], [[2.0]]), "target"),
    (lambda: losses.binary_cross_entropy([[0.5, 0.5]], [[1.0]]), "target"),
    (lambda: losses.svm_loss(np.zeros((2, 3)), [0, 1], margin=-1), "margin"),
])
def test_invalid_arguments_name_the_argument(call, argument):
    with pytest.raises(LayerArgumentError, match=rf"^{argument}\b"):
        call()
