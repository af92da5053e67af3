"""cs231n/optim.py: update(w, dw, config=None) -> (next_w, config), the config dict carrying the hyperparameters
(defaults set with setdefault, as the skeletons do) and the rule's state from one call to the next.

    sgd           learning_rate 1e-2
    sgd_momentum  learning_rate 1e-2, momentum 0.9, velocity (zeros)
    rmsprop       learning_rate 1e-2, decay_rate 0.99, epsilon 1e-8, cache (zeros)
    adam          learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8, m and v (zeros), t 0,
                  t incremented BEFORE it is used ("modify t _before_ using it", 2018 on)
"""
import numpy as np

from reference import optim as _optim

ADAM_FIRST_T = 0        # the skeleton's config.setdefault("t", ...): 0 from 2018 on, 1 in spring 2017


def sgd(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w, _ = _optim.sgd(w, dw, learning_rate=config["learning_rate"])
    return next_w, config


def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    velocity = config.get("velocity", np.zeros_like(w))
    next_w, state = _optim.sgd_momentum(w, dw, _optim.MomentumState(velocity),
                                        learning_rate=config["learning_rate"], momentum=config["momentum"])
    config["velocity"] = state.velocity
    return next_w, config


def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    next_w, state = _optim.rmsprop(w, dw, _optim.RMSPropState(config["cache"]), learning_rate=config["learning_rate"],
                                   decay_rate=config["decay_rate"], eps=config["epsilon"])
    config["cache"] = state.cache
    return next_w, config


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", ADAM_FIRST_T)
    next_w, state = _optim.adam(w, dw, _optim.AdamState(config["m"], config["v"], int(config["t"])),
                                learning_rate=config["learning_rate"], beta1=config["beta1"], beta2=config["beta2"],
                                eps=config["epsilon"])
    config["m"], config["v"], config["t"] = state.m, state.v, state.t
    return next_w, config
