"""First-order update rules as pure functions: ``rule(param, grad, state, **hyper) -> (new_param, new_state)``.

``state`` is None on the first step (the rule starts from zeros) and
afterwards whatever the previous call returned: a frozen dataclass holding
new arrays, so neither the caller's param nor its old state is ever modified.

    sgd           w' = w - lr * dw
    sgd_momentum  v' = mu * v - lr * dw;   w' = w + v'                        (CS231n)
    rmsprop       c' = decay * c + (1 - decay) * dw^2;   w' = w - lr * dw / (sqrt(c') + eps)
    adam          t' = t + 1
                  m' = beta1 * m + (1 - beta1) * dw;     v' = beta2 * v + (1 - beta2) * dw^2
                  w' = w - lr * (m' / (1 - beta1^t')) / (sqrt(v' / (1 - beta2^t')) + eps)

Conventions compared (the numbers are the defaults):

* Adam: the AICS AdamOptimizer (step = 0, ``step += 1`` before the bias
  correction) and the CS231n skeletons from 2018 on (t = 0, "modify t before
  using it") agree exactly: the first step corrects with t = 1, and eps is
  added to sqrt(v_hat) outside the root. The Spring 2017 CS231n skeleton
  starts at t = 1 and says nothing about when to count: counting before use
  makes its first correction use t = 2. Both are expressible here: the
  initial ``AdamState(t=...)`` and ``count_step_before_use`` (False: correct
  with the stored t, then count; with t = 0 that divides by zero, which is
  refused). torch.optim.Adam counts before use with eps outside the root too,
  so it equals ours up to rounding.
* RMSProp: torch.optim.RMSprop(alpha=decay, eps=eps) also adds eps outside
  the root (``sqrt(square_avg) + eps``) and also defaults to 0.99 / 1e-8:
  the same rule.
* Momentum: torch.optim.SGD keeps b' = mu * b + dw and steps w - lr * b'. With
  a constant learning rate v = -lr * b, so the trajectories coincide; they
  part when the learning rate changes between steps (ours folds the old lr
  into v, torch's does not).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate
from .errors import LayerArgumentError


@dataclass(frozen=True)
class MomentumState:
    velocity: np.ndarray
    """v, the last step taken (CS231n's config['velocity']); param's shape."""


@dataclass(frozen=True)
class RMSPropState:
    cache: np.ndarray
    """The running average of dw^2 (CS231n's config['cache']); param's shape."""


@dataclass(frozen=True)
class AdamState:
    m: np.ndarray
    """Running average of dw (first moment, not bias-corrected); param's shape."""
    v: np.ndarray
    """Running average of dw^2 (second moment, not bias-corrected); param's shape."""
    t: int = 0
    """Steps counted so far (AICS self.step, CS231n config['t'])."""


def _step_arguments(param, grad, learning_rate):
    param = _validate.float_array("param", param)
    grad = _validate.float_array("grad", grad)
    if grad.shape != param.shape:
        raise LayerArgumentError(f"grad must have param's shape {param.shape}, got {grad.shape}")
    learning_rate = _validate.real_number("learning_rate", learning_rate, 0)
    return param, grad, learning_rate, _validate.result_dtype(param, grad)


def _state_array(state, state_type, field, param, dtype) -> np.ndarray:
    """``state.field`` (zeros when state is None), checked against param's shape."""
    if state is None:
        return np.zeros(param.shape, dtype=dtype)
    if not isinstance(state, state_type):
        raise LayerArgumentError(f"state must be None or a {state_type.__name__}, got {type(state).__name__}")
    array = _validate.float_array(f"state.{field}", getattr(state, field))
    if array.shape != param.shape:
        raise LayerArgumentError(f"state.{field} must have param's shape {param.shape}, got {array.shape}")
    return array


def sgd(param, grad, state=None, *, learning_rate=1e-2):
    """``(param - lr * grad, None)``: plain SGD keeps no state."""
    param, grad, learning_rate, dtype = _step_arguments(param, grad, learning_rate)
    return (param - learning_rate * grad).astype(dtype, copy=False), None


def sgd_momentum(param, grad, state: MomentumState | None = None, *, learning_rate=1e-2, momentum=0.9):
    """CS231n sgd_momentum: v' = mu * v - lr * dw, w' = w + v'."""
    param, grad, learning_rate, dtype = _step_arguments(param, grad, learning_rate)
    momentum = _validate.real_number("momentum", momentum, 0, 1)
    velocity = momentum * _state_array(state, MomentumState, "velocity", param, dtype) - learning_rate * grad
    velocity = velocity.astype(dtype, copy=False)
    return (param + velocity).astype(dtype, copy=False), MomentumState(velocity)


def rmsprop(param, grad, state: RMSPropState | None = None, *, learning_rate=1e-2, decay_rate=0.99, eps=1e-8):
    """CS231n rmsprop: cache' = decay * cache + (1 - decay) * dw^2, w' = w - lr * dw / (sqrt(cache') + eps)."""
    param, grad, learning_rate, dtype = _step_arguments(param, grad, learning_rate)
    decay_rate = _validate.real_number("decay_rate", decay_rate, 0, 1)
    eps = _validate.real_number("eps", eps, 0)
    cache = decay_rate * _state_array(state, RMSPropState, "cache", param, dtype) + (1 - decay_rate) * grad**2
    cache = cache.astype(dtype, copy=False)
    updated = param - learning_rate * grad / (np.sqrt(cache) + eps)
    return updated.astype(dtype, copy=False), RMSPropState(cache)


def adam(param, grad, state: AdamState | None = None, *, learning_rate=1e-3, beta1=0.9, beta2=0.999,
         eps=1e-8, count_step_before_use=True):
    """Adam with bias correction (AICS formula 3.17, CS231n adam); see the module docstring for the step count."""
    param, grad, learning_rate, dtype = _step_arguments(param, grad, learning_rate)
    beta1 = _validate.real_number("beta1", beta1, 0, 1, high_open=True)
    beta2 = _validate.real_number("beta2", beta2, 0, 1, high_open=True)
    eps = _validate.real_number("eps", eps, 0)
    m = _state_array(state, AdamState, "m", param, dtype)
    v = _state_array(state, AdamState, "v", param, dtype)
    steps_taken = 0 if state is None else _validate.non_negative_int("state.t", state.t)
    t = steps_taken + 1 if count_step_before_use else steps_taken
    if t == 0:
        raise LayerArgumentError("state.t is 0 with count_step_before_use=False: the bias correction "
                                 "1 - beta1**0 would divide by zero (start such a state at t=1)")
    m = (beta1 * m + (1 - beta1) * grad).astype(dtype, copy=False)
    v = (beta2 * v + (1 - beta2) * grad**2).astype(dtype, copy=False)
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    updated = param - learning_rate * m_hat / (np.sqrt(v_hat) + eps)
    return updated.astype(dtype, copy=False), AdamState(m, v, steps_taken + 1)
