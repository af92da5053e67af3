import numpy as np

from cs231n.layers import *
from cs231n.layer_utils import *


class TwoLayerNet(object):
  """
  A two-layer fully-connected neural network with ReLU nonlinearity and
  softmax loss that uses a modular layer design.
  """

  def __init__(self, input_dim=3*32*32, hidden_dim=100, num_classes=10,
               weight_scale=1e-3, reg=0.0):
    self.params = {}
    self.reg = reg
    self.params['W1'] = weight_scale * np.random.randn(input_dim, hidden_dim)
    self.params['b1'] = np.zeros(hidden_dim)
    self.params['W2'] = weight_scale * np.random.randn(hidden_dim, num_classes)
    self.params['b2'] = np.zeros(num_classes)

  def loss(self, X, y=None):
    scores = None
    h1, cache1 = affine_relu_forward(X, self.params['W1'], self.params['b1'])
    scores, cache2 = affine_forward(h1, self.params['W2'], self.params['b2'])

    if y is None:
      return scores

    loss, grads = 0, {}
    loss, dscores = softmax_loss(scores, y)
    loss += 0.5 * self.reg * (np.sum(self.params['W1'] ** 2) + np.sum(self.params['W2'] ** 2))
    dh1, grads['W2'], grads['b2'] = affine_backward(dscores, cache2)
    dx, grads['W1'], grads['b1'] = affine_relu_backward(dh1, cache1)
    grads['W2'] += self.reg * self.params['W2']
    grads['W1'] += self.reg * self.params['W1']
    return loss, grads


class FullyConnectedNet(object):
  """
  A fully-connected neural network with an arbitrary number of hidden layers,
  ReLU nonlinearities, and a softmax loss function. This will also implement
  dropout and batch normalization as options. For a network with L layers,
  the architecture will be

  {affine - [batch norm] - relu - [dropout]} x (L - 1) - affine - softmax
  """

  def __init__(self, hidden_dims, input_dim=3*32*32, num_classes=10,
               dropout=0, use_batchnorm=False, reg=0.0,
               weight_scale=1e-2, dtype=np.float32, seed=None):
    self.use_batchnorm = use_batchnorm
    self.use_dropout = dropout > 0
    self.reg = reg
    self.num_layers = 1 + len(hidden_dims)
    self.dtype = dtype
    self.params = {}

    dims = [input_dim] + hidden_dims + [num_classes]
    for i in xrange(self.num_layers):
      self.params['W%d' % (i + 1)] = weight_scale * np.random.randn(dims[i], dims[i + 1])
      self.params['b%d' % (i + 1)] = np.zeros(dims[i + 1])
      if self.use_batchnorm and i < self.num_layers - 1:
        self.params['gamma%d' % (i + 1)] = np.ones(dims[i + 1])
        self.params['beta%d' % (i + 1)] = np.zeros(dims[i + 1])

    if 0 < dropout < 0.1:
      print 'warning: dropout %f drops almost nothing' % dropout

    self.dropout_param = {}
    if self.use_dropout:
      self.dropout_param = {'mode': 'train', 'p': dropout}
      if seed is not None:
        self.dropout_param['seed'] = seed

    self.bn_params = []
    if self.use_batchnorm:
      self.bn_params = [{'mode': 'train'} for i in xrange(self.num_layers - 1)]

    for k, v in self.params.iteritems():
      self.params[k] = v.astype(dtype)

  def loss(self, X, y=None):
    X = X.astype(self.dtype)
    mode = 'test' if y is None else 'train'

    if self.dropout_param is not None:
      self.dropout_param['mode'] = mode
    if self.use_batchnorm:
      for bn_param in self.bn_params:
        bn_param['mode'] = mode

    scores = None
    caches = {}
    out = X
    for i in xrange(1, self.num_layers):
      out, caches['affine%d' % i] = affine_forward(out, self.params['W%d' % i], self.params['b%d' % i])
      if self.use_batchnorm:
        out, caches['bn%d' % i] = batchnorm_forward(out, self.params['gamma%d' % i],
                                                    self.params['beta%d' % i], self.bn_params[i - 1])
      out, caches['relu%d' % i] = relu_forward(out)
      if self.use_dropout:
        out, caches['drop%d' % i] = dropout_forward(out, self.dropout_param)
    L = self.num_layers
    scores, caches['affine%d' % L] = affine_forward(out, self.params['W%d' % L], self.params['b%d' % L])

    if mode == 'test':
      return scores

    loss, grads = 0.0, {}
    loss, dout = softmax_loss(scores, y)
    for i in xrange(1, L + 1):
      loss += 0.5 * self.reg * np.sum(self.params['W%d' % i] ** 2)

    dout, grads['W%d' % L], grads['b%d' % L] = affine_backward(dout, caches['affine%d' % L])
    grads['W%d' % L] += self.reg * self.params['W%d' % L]
    for i in reversed(xrange(1, L)):
      if self.use_dropout:
        dout = dropout_backward(dout, caches['drop%d' % i])
      dout = relu_backward(dout, caches['relu%d' % i])
      if self.use_batchnorm:
        dout, grads['gamma%d' % i], grads['beta%d' % i] = batchnorm_backward(dout, caches['bn%d' % i])
      dout, grads['W%d' % i], grads['b%d' % i] = affine_backward(dout, caches['affine%d' % i])
      grads['W%d' % i] += self.reg * self.params['W%d' % i]

    return loss, grads
