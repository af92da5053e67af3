"""Layers of my computation-graph framework: each keeps params/grads dicts and what backward needs."""
import numpy as np


class Layer:
    def __init__(self):
        self.params = {}
        self.grads = {}
        self.training = True


class Linear(Layer):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.params['weight'] = np.random.randn(in_features, out_features) * np.sqrt(2.0 / in_features)
        self.params['bias'] = np.zeros(out_features)

    def forward(self, x):
        self.x = x
        return x @ self.params['weight'] + self.params['bias']

    def backward(self, dout):
        self.grads['weight'] = self.x.T @ dout
        self.grads['bias'] = dout.sum(axis=0)
        return dout @ self.params['weight'].T


class Sigmoid(Layer):
    def forward(self, x):
        self.out = 1.0 / (1.0 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1.0 - self.out)


class ReLU(Layer):
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


def _same_padding(k):
    # odd kernel: k//2 on both sides; even kernel: one less before than after
    half = k // 2
    return (half, half) if k % 2 else (half, half - 1)


class Conv2d(Layer):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.k, self.stride, self.padding = kernel_size, stride, padding
        fan_in = in_channels * kernel_size * kernel_size
        self.params['weight'] = np.random.randn(out_channels, in_channels, kernel_size, kernel_size) * np.sqrt(2.0 / fan_in)
        if bias:
            self.params['bias'] = np.zeros(out_channels)

    def _pads(self):
        if self.padding == 'same':
            return _same_padding(self.k)
        return self.padding, self.padding

    def forward(self, x):
        self.x = x
        before, after = self._pads()
        xp = np.pad(x, ((0, 0), (0, 0), (before, after), (before, after)))
        self.xp = xp
        N, C, H, W = xp.shape
        k, s = self.k, self.stride
        Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
        # im2col: columns of every window, (N, Ho, Wo, C*k*k)
        cols = np.empty((N, Ho, Wo, C, k, k))
        for i in range(k):
            for j in range(k):
                cols[:, :, :, :, i, j] = xp[:, :, i:i + s * (Ho - 1) + 1:s, j:j + s * (Wo - 1) + 1:s].transpose(0, 2, 3, 1)
        self.cols = cols.reshape(N, Ho, Wo, -1)
        w = self.params['weight'].reshape(self.params['weight'].shape[0], -1)
        out = self.cols @ w.T
        if 'bias' in self.params:
            out = out + self.params['bias']
        return out.transpose(0, 3, 1, 2)

    def backward(self, dout):
        F = self.params['weight'].shape[0]
        N, _, Ho, Wo = dout.shape
        d = dout.transpose(0, 2, 3, 1).reshape(-1, F)
        self.grads['weight'] = (d.T @ self.cols.reshape(-1, self.cols.shape[-1])).reshape(self.params['weight'].shape)
        if 'bias' in self.params:
            self.grads['bias'] = d.sum(axis=0)
        dcols = (d @ self.params['weight'].reshape(F, -1)).reshape(N, Ho, Wo, -1, self.k, self.k)
        dxp = np.zeros_like(self.xp)
        k, s = self.k, self.stride
        for i in range(k):
            for j in range(k):
                dxp[:, :, i:i + s * (Ho - 1) + 1:s, j:j + s * (Wo - 1) + 1:s] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        before, _ = self._pads()
        H, W = self.x.shape[2:]
        return dxp[:, :, before:before + H, before:before + W]


class MaxPool2d(Layer):
    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.k = kernel_size
        self.s = kernel_size if stride is None else stride

    def forward(self, x):
        self.x = x
        N, C, H, W = x.shape
        k, s = self.k, self.s
        Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
        out = np.empty((N, C, Ho, Wo))
        self.argmax = np.empty((N, C, Ho, Wo), dtype=int)
        for i in range(Ho):
            for j in range(Wo):
                window = x[:, :, i * s:i * s + k, j * s:j * s + k].reshape(N, C, -1)
                self.argmax[:, :, i, j] = window.argmax(axis=2)
                out[:, :, i, j] = window.max(axis=2)
        return out

    def backward(self, dout):
        N, C, Ho, Wo = dout.shape
        k, s = self.k, self.s
        dx = np.zeros_like(self.x)
        n, c = np.meshgrid(np.arange(N), np.arange(C), indexing='ij')
        for i in range(Ho):
            for j in range(Wo):
                r, q = np.divmod(self.argmax[:, :, i, j], k)
                dx[n, c, i * s + r, j * s + q] += dout[:, :, i, j]
        return dx


class AvgPool2d(Layer):
    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.k = kernel_size
        self.s = kernel_size if stride is None else stride

    def forward(self, x):
        self.shape = x.shape
        N, C, H, W = x.shape
        k, s = self.k, self.s
        Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
        out = np.empty((N, C, Ho, Wo))
        for i in range(Ho):
            for j in range(Wo):
                out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].mean(axis=(2, 3))
        return out

    def backward(self, dout):
        dx = np.zeros(self.shape)
        k, s = self.k, self.s
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dx[:, :, i * s:i * s + k, j * s:j * s + k] += dout[:, :, i:i + 1, j:j + 1] / (k * k)
        return dx


class BatchNorm1d(Layer):
    axes = (0,)

    def __init__(self, num_features, momentum=0.9, eps=1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.params['gamma'] = np.ones(num_features)
        self.params['beta'] = np.zeros(num_features)
        self.running_mean = np.zeros(num_features)
        self.running_var = np.ones(num_features)

    def _shape(self, v):
        return v.reshape((1, -1) + (1,) * (self.ndim - 2))

    def forward(self, x):
        self.ndim = x.ndim
        axes = (0,) + tuple(range(2, x.ndim))
        if self.training:
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mean
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            mean, var = self.running_mean, self.running_var
        self.inv_std = 1.0 / np.sqrt(self._shape(var) + self.eps)
        self.xhat = (x - self._shape(mean)) * self.inv_std
        return self._shape(self.params['gamma']) * self.xhat + self._shape(self.params['beta'])

    def backward(self, dout):
        axes = (0,) + tuple(range(2, dout.ndim))
        m = dout.size // dout.shape[1]
        self.grads['gamma'] = (dout * self.xhat).sum(axis=axes)
        self.grads['beta'] = dout.sum(axis=axes)
        dxhat = dout * self._shape(self.params['gamma'])
        if not self.training:
            return dxhat * self.inv_std
        return self.inv_std / m * (m * dxhat - dxhat.sum(axis=axes, keepdims=True)
                                   - self.xhat * (dxhat * self.xhat).sum(axis=axes, keepdims=True))


class BatchNorm2d(BatchNorm1d):
    pass


class Add(Layer):
    def forward(self, a, b):
        return a + b

    def backward(self, dout):
        return dout, dout
