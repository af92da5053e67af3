"""framework/models.py: an MLP and the residual blocks of the notes (五.2, He et al. 2015).

MLP(sizes): Linear(sizes[0], sizes[1]) - Sigmoid - ... - Linear(sizes[-2], sizes[-1]) in ``layers`` (the
output layer has no activation: scores for SoftmaxCrossEntropyLoss, or a Sigmoid the caller adds before a
BCELoss).

BasicBlock(in_channels, out_channels, stride=1):
    main     = bn2(conv2(relu(bn1(conv1(x)))))         conv1 3x3 / stride, conv2 3x3 / 1, padding 1, no bias
    shortcut = x, or shortcut_bn(shortcut_conv(x))      1x1 / stride, no bias, when stride != 1 or channels differ
    out      = relu(main + shortcut)
Bottleneck(in_channels, width, out_channels, stride=1):
    main     = bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))))   1x1, 3x3 / stride, 1x1 (width, width, out)

The sublayers are attributes (conv1, bn1, ..., shortcut_conv, shortcut_bn; the last two None for an
identity shortcut), each with its own params and grads. The notes' listing writes
``sc_out=out=BatchNorm2d(sc_out)``, which would add the projection to itself: the paper (and this
reference) adds the main path and the shortcut.
"""
from . import layers


def residual_forward(main, shortcut, projected):
    """relu(main + shortcut); ``projected`` says whether the shortcut went through the 1x1 convolution."""
    return layers.relu_forward(main + shortcut)


def residual_backward(dout, out):
    """(d main, d shortcut) of out = relu(main + shortcut): dout where out > 0 (where main + shortcut > 0)."""
    dsum = layers.relu_backward(dout, out)
    return dsum, dsum


class MLP(object):
    def __init__(self, sizes):
        self.layers = []
        for index in range(len(sizes) - 1):
            self.layers.append(layers.Linear(sizes[index], sizes[index + 1]))
            if index < len(sizes) - 2:
                self.layers.append(layers.Sigmoid())

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


class _Residual(object):
    main = ()

    def _shortcut(self, in_channels, out_channels, stride):
        if stride != 1 or in_channels != out_channels:
            self.shortcut_conv = layers.Conv2d(in_channels, out_channels, 1, stride=stride, padding=0, bias=False)
            self.shortcut_bn = layers.BatchNorm2d(out_channels)
        else:
            self.shortcut_conv = self.shortcut_bn = None

    def sublayers(self):
        return [getattr(self, name) for name in self.main]

    def forward(self, x):
        main = x
        for layer in self.sublayers():
            main = layer.forward(main)
        shortcut = x if self.shortcut_conv is None else self.shortcut_bn.forward(self.shortcut_conv.forward(x))
        self.out = residual_forward(main, shortcut, self.shortcut_conv is not None)
        return self.out

    def backward(self, dout):
        dmain, dshortcut = residual_backward(dout, self.out)
        for layer in reversed(self.sublayers()):
            dmain = layer.backward(dmain)
        if self.shortcut_conv is not None:
            dshortcut = self.shortcut_conv.backward(self.shortcut_bn.backward(dshortcut))
        return dmain + dshortcut            # x feeds both branches

    @property
    def training(self):
        return self.bn1.training

    @training.setter
    def training(self, value):
        for layer in self.sublayers() + [self.shortcut_bn]:
            if layer is not None:
                layer.training = value


class BasicBlock(_Residual):
    main = ("conv1", "bn1", "relu1", "conv2", "bn2")

    def __init__(self, in_channels, out_channels, stride=1):
        self.conv1 = layers.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = layers.BatchNorm2d(out_channels)
        self.relu1 = layers.ReLU()
        self.conv2 = layers.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = layers.BatchNorm2d(out_channels)
        self._shortcut(in_channels, out_channels, stride)


class Bottleneck(_Residual):
    main = ("conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3")

    def __init__(self, in_channels, width, out_channels, stride=1):
        self.conv1 = layers.Conv2d(in_channels, width, 1, stride=1, padding=0, bias=False)
        self.bn1 = layers.BatchNorm2d(width)
        self.relu1 = layers.ReLU()
        self.conv2 = layers.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = layers.BatchNorm2d(width)
        self.relu2 = layers.ReLU()
        self.conv3 = layers.Conv2d(width, out_channels, 1, stride=1, padding=0, bias=False)
        self.bn3 = layers.BatchNorm2d(out_channels)
        self._shortcut(in_channels, out_channels, stride)
