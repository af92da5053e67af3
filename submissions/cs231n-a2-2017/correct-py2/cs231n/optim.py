import numpy as np


def sgd(w, dw, config=None):
  if config is None: config = {}
  config.setdefault('learning_rate', 1e-2)

  w -= config['learning_rate'] * dw
  return w, config


def sgd_momentum(w, dw, config=None):
  if config is None: config = {}
  config.setdefault('learning_rate', 1e-2)
  config.setdefault('momentum', 0.9)
  v = config.get('velocity', np.zeros_like(w))

  next_w = None
  v = config['momentum'] * v - config['learning_rate'] * dw
  next_w = w + v
  config['velocity'] = v

  return next_w, config


def rmsprop(x, dx, config=None):
  if config is None: config = {}
  config.setdefault('learning_rate', 1e-2)
  config.setdefault('decay_rate', 0.99)
  config.setdefault('epsilon', 1e-8)
  config.setdefault('cache', np.zeros_like(x))

  next_x = None
  cache = config['decay_rate'] * config['cache'] + (1 - config['decay_rate']) * dx ** 2
  next_x = x - config['learning_rate'] * dx / (np.sqrt(cache) + config['epsilon'])
  config['cache'] = cache

  return next_x, config


def adam(x, dx, config=None):
  if config is None: config = {}
  config.setdefault('learning_rate', 1e-3)
  config.setdefault('beta1', 0.9)
  config.setdefault('beta2', 0.999)
  config.setdefault('epsilon', 1e-8)
  config.setdefault('m', np.zeros_like(x))
  config.setdefault('v', np.zeros_like(x))
  config.setdefault('t', 1)

  next_x = None
  beta1, beta2, eps = config['beta1'], config['beta2'], config['epsilon']
  t = config['t'] + 1
  m = beta1 * config['m'] + (1 - beta1) * dx
  v = beta2 * config['v'] + (1 - beta2) * dx ** 2
  mb = m / (1 - beta1 ** t)
  vb = v / (1 - beta2 ** t)
  next_x = x - config['learning_rate'] * mb / (np.sqrt(vb) + eps)
  config['m'], config['v'], config['t'] = m, v, t

  return next_x, config
