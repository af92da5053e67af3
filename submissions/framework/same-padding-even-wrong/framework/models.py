from .layers import Add, BatchNorm2d, Conv2d, Linear, ReLU, Sigmoid


class MLP:
    def __init__(self, sizes):
        self.layers = []
        for i in range(len(sizes) - 1):
            self.layers.append(Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                self.layers.append(Sigmoid())

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


class _Block:
    names = ()

    def _make_shortcut(self, cin, cout, stride):
        if stride != 1 or cin != cout:
            self.shortcut_conv = Conv2d(cin, cout, 1, stride=stride, padding=0, bias=False)
            self.shortcut_bn = BatchNorm2d(cout)
        else:
            self.shortcut_conv = None
            self.shortcut_bn = None
        self.add = Add()
        self.out_relu = ReLU()

    def forward(self, x):
        h = x
        for name in self.names:
            h = getattr(self, name).forward(h)
        sc = x if self.shortcut_conv is None else self.shortcut_bn.forward(self.shortcut_conv.forward(x))
        return self.out_relu.forward(self.add.forward(h, sc))

    def backward(self, dout):
        dh, dsc = self.add.backward(self.out_relu.backward(dout))
        for name in reversed(self.names):
            dh = getattr(self, name).backward(dh)
        if self.shortcut_conv is not None:
            dsc = self.shortcut_conv.backward(self.shortcut_bn.backward(dsc))
        return dh + dsc


class BasicBlock(_Block):
    names = ('conv1', 'bn1', 'relu1', 'conv2', 'bn2')

    def __init__(self, in_channels, out_channels, stride=1):
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm2d(out_channels)
        self.relu1 = ReLU()
        self.conv2 = Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = BatchNorm2d(out_channels)
        self._make_shortcut(in_channels, out_channels, stride)


class Bottleneck(_Block):
    names = ('conv1', 'bn1', 'relu1', 'conv2', 'bn2', 'relu2', 'conv3', 'bn3')

    def __init__(self, in_channels, width, out_channels, stride=1):
        self.conv1 = Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = BatchNorm2d(width)
        self.relu1 = ReLU()
        self.conv2 = Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = BatchNorm2d(width)
        self.relu2 = ReLU()
        self.conv3 = Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = BatchNorm2d(out_channels)
        self._make_shortcut(in_channels, out_channels, stride)
