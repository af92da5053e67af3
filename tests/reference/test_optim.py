"""Update rules: torch.optim over several steps, the CS231n notebook's values, the AICS AdamOptimizer,
the step-count conventions, purity, dtypes, errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference import optim
from reference.errors import LayerArgumentError

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2**32 - 1)
STEPS = 5


def trajectory_inputs(shape, seed):
    """A start point and STEPS gradients of varying scale (so bias correction and caches matter)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), [rng.standard_normal(shape) * 10.0 ** rng.uniform(-2, 1)
                                        for _ in range(STEPS)]


def our_trajectory(rule, param, grads, **hyper):
    state, points = None, []
    for grad in grads:
        param, state = rule(param, grad, state, **hyper)
        points.append(param)
    return points


def torch_trajectory(torch, optimizer_class, param, grads, **hyper):
    tensor = torch.tensor(param, requires_grad=True)
    optimizer = optimizer_class([tensor], foreach=False, **hyper)
    points = []
    for grad in grads:
        tensor.grad = torch.tensor(grad)
        optimizer.step()
        points.append(tensor.detach().numpy().copy())
    return points


@settings(max_examples=15)
@given(shape=shapes, seed=seeds, rule=st.sampled_from(["sgd", "momentum", "rmsprop", "adam"]),
       learning_rate=st.sampled_from([1e-3, 1e-2, 0.5]), coefficient=st.sampled_from([0.0, 0.5, 0.9, 0.99]))
def test_matches_torch_optim_over_several_steps(shape, seed, rule, learning_rate, coefficient):
    """Where the conventions coincide: constant learning rate, eps outside the root, count before use."""
    torch = pytest.importorskip("torch")
    param, grads = trajectory_inputs(shape, seed)
    cases = {
        "sgd": (optim.sgd, {}, torch.optim.SGD, {}),
        "momentum": (optim.sgd_momentum, {"momentum": coefficient}, torch.optim.SGD, {"momentum": coefficient}),
        "rmsprop": (optim.rmsprop, {"decay_rate": coefficient, "eps": 1e-8},
                    torch.optim.RMSprop, {"alpha": coefficient, "eps": 1e-8}),
        "adam": (optim.adam, {"beta1": coefficient, "beta2": 0.999, "eps": 1e-8},
                 torch.optim.Adam, {"betas": (coefficient, 0.999), "eps": 1e-8}),
    }
    ours, our_hyper, torch_class, torch_hyper = cases[rule]
    expected = torch_trajectory(torch, torch_class, param, grads, lr=learning_rate, **torch_hyper)
    actual = our_trajectory(ours, param, grads, learning_rate=learning_rate, **our_hyper)
    for step, (point, torch_point) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(point, torch_point, rtol=1e-12, atol=1e-13, err_msg=f"step {step + 1}")


def test_cs231n_notebook_values():
    """The first row of expected_next_w in the CS231n optimizer tests (w, dw, state from linspace)."""
    n, d = 4, 5
    w = np.linspace(-0.4, 0.6, num=n * d).reshape(n, d)
    dw = np.linspace(-0.6, 0.4, num=n * d).reshape(n, d)
    velocity = cache = m = np.linspace(0.6, 0.9, num=n * d).reshape(n, d)
    v = np.linspace(0.7, 0.5, num=n * d).reshape(n, d)
    results = {
        "sgd_momentum": (optim.sgd_momentum(w, dw, optim.MomentumState(velocity), learning_rate=1e-3)[0],
                         [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789]),
        "rmsprop": (optim.rmsprop(w, dw, optim.RMSPropState(cache), learning_rate=1e-2)[0],
                    [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247]),
        # the notebook passes t=5 and expects the correction with t=6: counted before use
        "adam": (optim.adam(w, dw, optim.AdamState(m, v, t=5), learning_rate=1e-2)[0],
                 [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977]),
    }
    for name, (actual, expected_first_row) in results.items():
        np.testing.assert_allclose(actual[0], expected_first_row, rtol=0, atol=5e-9, err_msg=name)


class AicsAdamOptimizer:
    """exp_3_3_style_transfer.AdamOptimizer as the course writes it (notes/aics_lab3.md section 1.7)."""

    def __init__(self, lr, diff_shape):
        self.beta1, self.beta2, self.eps, self.lr = 0.9, 0.999, 1e-8, lr
        self.mt = np.zeros(diff_shape)
        self.vt = np.zeros(diff_shape)
        self.step = 0

    def update(self, input, grad):
        self.step += 1
        self.mt = self.beta1 * self.mt + (1 - self.beta1) * grad
        self.vt = self.beta2 * self.vt + (1 - self.beta2) * np.square(grad)
        mt_hat = self.mt / (1 - self.beta1 ** self.step)
        vt_hat = self.vt / (1 - self.beta2 ** self.step)
        return input - self.lr * mt_hat / (np.sqrt(vt_hat) + self.eps)


@settings(max_examples=10)
@given(shape=shapes, seed=seeds)
def test_adam_defaults_are_the_aics_adam_optimizer(shape, seed):
    param, grads = trajectory_inputs(shape, seed)
    course = AicsAdamOptimizer(1.0, shape)
    expected, point = [], param
    for grad in grads:
        point = course.update(point, grad)
        expected.append(point)
    for actual, course_point in zip(our_trajectory(optim.adam, param, grads, learning_rate=1.0), expected):
        np.testing.assert_allclose(actual, course_point, rtol=1e-15, atol=1e-15)


def test_step_count_conventions():
    param, grads = trajectory_inputs((3, 2), seed=4)
    counted_before = our_trajectory(optim.adam, param, grads)
    # CS231n 2017 (t starts at 1), corrected with the stored t and counted afterwards: the same steps
    state, counted_after = optim.AdamState(np.zeros((3, 2)), np.zeros((3, 2)), t=1), []
    point = param
    for grad in grads:
        point, state = optim.adam(point, grad, state, count_step_before_use=False)
        counted_after.append(point)
    np.testing.assert_array_equal(np.array(counted_after), np.array(counted_before))
    # t starting at 1 AND counted before use: the first correction uses t = 2
    first, _ = optim.adam(param, grads[0], optim.AdamState(np.zeros((3, 2)), np.zeros((3, 2)), t=1))
    m, v = 0.1 * grads[0], 0.001 * grads[0] ** 2
    np.testing.assert_allclose(first, param - 1e-3 * (m / (1 - 0.9**2)) / (np.sqrt(v / (1 - 0.999**2)) + 1e-8),
                               rtol=1e-15)
    assert state.t == STEPS + 1


def test_momentum_folds_the_old_learning_rate_into_the_velocity():
    """Where CS231n and torch part: with a learning-rate change, v keeps the old lr * dw."""
    param, grad = np.array([1.0]), np.array([2.0])
    first, state = optim.sgd_momentum(param, grad, learning_rate=0.1, momentum=0.5)
    second, _ = optim.sgd_momentum(first, grad, state, learning_rate=0.01, momentum=0.5)
    np.testing.assert_allclose(state.velocity, [-0.2])
    np.testing.assert_allclose(second, first + (0.5 * -0.2 - 0.01 * 2.0))


@pytest.mark.parametrize("rule", [optim.sgd_momentum, optim.rmsprop, optim.adam])
def test_rules_are_pure(rule):
    param, grads = trajectory_inputs((2, 3), seed=6)
    _, state = rule(param, grads[0])
    kept_param = param.copy()
    kept_state = {name: np.copy(value) for name, value in vars(state).items()}
    rule(param, grads[1], state)
    np.testing.assert_array_equal(param, kept_param)
    for name, value in kept_state.items():
        np.testing.assert_array_equal(getattr(state, name), value)


@pytest.mark.parametrize("rule", [optim.sgd, optim.sgd_momentum, optim.rmsprop, optim.adam])
def test_float32_in_float32_out(rule):
    param, grads = trajectory_inputs((3, 4), seed=2)
    actual = our_trajectory(rule, param.astype(np.float32), [grad.astype(np.float32) for grad in grads],
                            learning_rate=1e-2)
    expected = our_trajectory(rule, param, grads, learning_rate=1e-2)
    for point32, point64 in zip(actual, expected):
        assert point32.dtype == np.float32
        np.testing.assert_allclose(point32, point64, rtol=1e-5, atol=1e-6)
    _, state = rule(param.astype(np.float32), grads[0].astype(np.float32))
    state_arrays = [] if state is None else [value for value in vars(state).values() if isinstance(value, np.ndarray)]
    assert all(value.dtype == np.float32 for value in state_arrays)


@pytest.mark.parametrize("call, argument", [
    (lambda: optim.sgd(np.ones(3), np.ones(3), learning_rate=-1.0), "learning_rate"),
    (lambda: optim.sgd(np.ones(3), np.ones(2)), "grad"),
    (lambda: optim.sgd_momentum(np.ones(3), np.ones(3), momentum=-0.5), "momentum"),
    (lambda: optim.sgd_momentum(np.ones(3), np.ones(3), optim.RMSPropState(np.ones(3))), "state"),
    (lambda: optim.sgd_momentum(np.ones(3), np.ones(3), optim.MomentumState(np.ones(2))), "state.velocity"),
    (lambda: optim.rmsprop(np.ones(3), np.ones(3), decay_rate=1.5), "decay_rate"),
    (lambda: optim.rmsprop(np.ones(3), np.ones(3), eps=-1e-8), "eps"),
    (lambda: optim.adam(np.ones(3), np.ones(3), beta1=1.0), "beta1"),
    (lambda: optim.adam(np.ones(3), np.ones(3), beta2=-0.1), "beta2"),
    (lambda: optim.adam(np.ones(3), np.ones(3), count_step_before_use=False), "state.t"),
    (lambda: optim.adam(np.ones(3), np.ones(3), optim.AdamState(np.ones(3), np.ones(3), t=-1)), "state.t"),
])
def test_invalid_arguments_name_the_argument(call, argument):
    with pytest.raises(LayerArgumentError, match=rf"^{argument}\b"):
        call()
