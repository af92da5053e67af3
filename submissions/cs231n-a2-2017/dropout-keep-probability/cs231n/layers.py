import numpy as np


def affine_forward(x, w, b):
  """
  Computes the forward pass for an affine (fully-connected) layer.

  Returns a tuple of:
  - out: output, of shape (N, M)
  - cache: (x, w, b)
  """
  out = None
  #############################################################################
  # TODO: Implement the affine forward pass. Store the result in out. You     #
  # will need to reshape the input into rows.                                 #
  #############################################################################
  N = x.shape[0]
  out = x.reshape(N, -1).dot(w) + b
  #############################################################################
  #                             END OF YOUR CODE                              #
  #############################################################################
  cache = (x, w, b)
  return out, cache


def affine_backward(dout, cache):
  x, w, b = cache
  dx, dw, db = None, None, None
  N = x.shape[0]
  dx = dout.dot(w.T).reshape(x.shape)
  dw = x.reshape(N, -1).T.dot(dout)
  db = np.sum(dout, axis=0)
  return dx, dw, db


def relu_forward(x):
  out = np.maximum(0, x)
  cache = x
  return out, cache


def relu_backward(dout, cache):
  dx, x = None, cache
  dx = dout.copy()
  dx[x <= 0] = 0
  return dx


def batchnorm_forward(x, gamma, beta, bn_param):
  mode = bn_param['mode']
  eps = bn_param.get('eps', 1e-5)
  momentum = bn_param.get('momentum', 0.9)

  N, D = x.shape
  running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
  running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

  out, cache = None, None
  if mode == 'train':
    mu = np.sum(x, axis=0) / N
    xmu = x - mu
    var = np.sum(xmu ** 2, axis=0) / N
    sqrtvar = np.sqrt(var + eps)
    ivar = 1. / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    cache = (xhat, gamma, xmu, ivar, sqrtvar, var, eps)
    running_mean = momentum * running_mean + (1 - momentum) * mu
    running_var = momentum * running_var + (1 - momentum) * var
  elif mode == 'test':
    out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
  else:
    raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

  bn_param['running_mean'] = running_mean
  bn_param['running_var'] = running_var
  return out, cache


def batchnorm_backward(dout, cache):
  # backprop through the staged computation graph, one node at a time
  xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
  N, D = dout.shape
  dbeta = np.sum(dout, axis=0)
  dgamma = np.sum(dout * xhat, axis=0)
  dxhat = dout * gamma
  divar = np.sum(dxhat * xmu, axis=0)
  dxmu1 = dxhat * ivar
  dsqrtvar = -1. / (sqrtvar ** 2) * divar
  dvar = 0.5 * 1. / np.sqrt(var + eps) * dsqrtvar
  dsq = 1. / N * np.ones((N, D)) * dvar
  dxmu2 = 2 * xmu * dsq
  dx1 = dxmu1 + dxmu2
  dmu = -1 * np.sum(dxmu1 + dxmu2, axis=0)
  dx2 = 1. / N * np.ones((N, D)) * dmu
  dx = dx1 + dx2
  return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
  xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
  N = dout.shape[0]
  dbeta = np.sum(dout, axis=0)
  dgamma = np.sum(xhat * dout, axis=0)
  dx = (1. / N) * gamma * ivar * (N * dout - dbeta - xhat * dgamma)
  return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
  """
  Performs the forward pass for (inverted) dropout.

  Inputs:
  - x: Input data, of any shape
  - dropout_param: A dictionary with the following keys:
    - p: Dropout parameter. We drop each neuron output with probability p.
    - mode: 'test' or 'train'. If the mode is train, then perform dropout;
      if the mode is test, then just return the input.
    - seed: Seed for the random number generator. Passing seed makes this
      function deterministic, which is needed for gradient checking but not in
      real networks.
  """
  p, mode = dropout_param['p'], dropout_param['mode']
  if 'seed' in dropout_param:
    np.random.seed(dropout_param['seed'])

  mask = None
  out = None

  if mode == 'train':
    mask = (np.random.rand(*x.shape) < p) / p
    out = x * mask
  elif mode == 'test':
    out = x

  cache = (dropout_param, mask)
  out = out.astype(x.dtype, copy=False)

  return out, cache


def dropout_backward(dout, cache):
  dropout_param, mask = cache
  mode = dropout_param['mode']

  dx = None
  if mode == 'train':
    dx = dout * mask
  elif mode == 'test':
    dx = dout
  return dx


def conv_forward_naive(x, w, b, conv_param):
  N, C, H, W = x.shape
  F, _, HH, WW = w.shape
  stride, pad = conv_param['stride'], conv_param['pad']
  H_out = 1 + (H + 2 * pad - HH) / stride
  W_out = 1 + (W + 2 * pad - WW) / stride
  x_pad = np.pad(x, ((0,), (0,), (pad,), (pad,)), 'constant')
  out = np.zeros((N, F, H_out, W_out))
  for n in xrange(N):
    for f in xrange(F):
      for i in xrange(H_out):
        for j in xrange(W_out):
          out[n, f, i, j] = np.sum(x_pad[n, :, i*stride:i*stride+HH, j*stride:j*stride+WW] * w[f]) + b[f]
  cache = (x, w, b, conv_param)
  return out, cache


def conv_backward_naive(dout, cache):
  x, w, b, conv_param = cache
  N, C, H, W = x.shape
  F, _, HH, WW = w.shape
  stride, pad = conv_param['stride'], conv_param['pad']
  H_out = 1 + (H + 2 * pad - HH) / stride
  W_out = 1 + (W + 2 * pad - WW) / stride
  x_pad = np.pad(x, ((0,), (0,), (pad,), (pad,)), 'constant')
  dx_pad = np.zeros_like(x_pad)
  dw = np.zeros_like(w)
  db = np.zeros_like(b)
  for n in xrange(N):
    for f in xrange(F):
      db[f] += dout[n, f].sum()
      for i in xrange(H_out):
        for j in xrange(W_out):
          dw[f] += x_pad[n, :, i*stride:i*stride+HH, j*stride:j*stride+WW] * dout[n, f, i, j]
          dx_pad[n, :, i*stride:i*stride+HH, j*stride:j*stride+WW] += w[f] * dout[n, f, i, j]
  dx = dx_pad[:, :, pad:pad+H, pad:pad+W]
  return dx, dw, db


def max_pool_forward_naive(x, pool_param):
  N, C, H, W = x.shape
  HH, WW, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
  H_out = 1 + (H - HH) / stride
  W_out = 1 + (W - WW) / stride
  out = np.zeros((N, C, H_out, W_out))
  for n in xrange(N):
    for c in xrange(C):
      for i in xrange(H_out):
        for j in xrange(W_out):
          out[n, c, i, j] = np.max(x[n, c, i*stride:i*stride+HH, j*stride:j*stride+WW])
  cache = (x, pool_param)
  return out, cache


def max_pool_backward_naive(dout, cache):
  x, pool_param = cache
  N, C, H, W = x.shape
  HH, WW, stride = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
  H_out = 1 + (H - HH) / stride
  W_out = 1 + (W - WW) / stride
  dx = np.zeros_like(x)
  for n in xrange(N):
    for c in xrange(C):
      for i in xrange(H_out):
        for j in xrange(W_out):
          window = x[n, c, i*stride:i*stride+HH, j*stride:j*stride+WW]
          idx = np.unravel_index(np.argmax(window), window.shape)
          dx[n, c, i*stride+idx[0], j*stride+idx[1]] += dout[n, c, i, j]
  return dx


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
  N, C, H, W = x.shape
  x_flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
  out_flat, cache = batchnorm_forward(x_flat, gamma, beta, bn_param)
  out = out_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
  return out, cache


def spatial_batchnorm_backward(dout, cache):
  N, C, H, W = dout.shape
  dout_flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)
  dx_flat, dgamma, dbeta = batchnorm_backward(dout_flat, cache)
  dx = dx_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
  return dx, dgamma, dbeta


def svm_loss(x, y):
  N = x.shape[0]
  correct_class_scores = x[np.arange(N), y]
  margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)
  margins[np.arange(N), y] = 0
  loss = np.sum(margins) / N
  num_pos = np.sum(margins > 0, axis=1)
  dx = np.zeros_like(x)
  dx[margins > 0] = 1
  dx[np.arange(N), y] -= num_pos
  dx /= N
  return loss, dx


def softmax_loss(x, y):
  probs = np.exp(x - np.max(x, axis=1, keepdims=True))
  probs /= np.sum(probs, axis=1, keepdims=True)
  N = x.shape[0]
  loss = -np.sum(np.log(probs[np.arange(N), y])) / N
  dx = probs.copy()
  dx[np.arange(N), y] -= 1
  dx /= N
  return loss, dx
