# Runs the same under the real Python 2.7 and under Python 3 through the harness's loader (see exp3_3_layers.py).
from __future__ import print_function

import importlib
import json

import numpy as np


def load(name):
    try:
        return modules.import_module(name)          # noqa: F821 (Python 3: the harness's loader)
    except NameError:
        return importlib.import_module("stu_upload." + name)    # Python 2.7, as the course's drivers import


layers_1, layers_2 = load("layers_1"), load("layers_2")
random = np.random.RandomState(11)
outputs = {}
for stride, padding in ((1, 1), (2, 0)):
    conv = layers_2.ConvolutionalLayer(3, 3, 5, padding, stride)
    conv.init_param()
    conv.load_param(random.randn(3, 3, 3, 5), random.randn(5))
    outputs["conv%d%d" % (stride, padding)] = conv.forward(random.randn(2, 3, 9, 7)).tolist()
pool = layers_2.MaxPoolingLayer(2, 2)
outputs["pool"] = pool.forward(random.randn(2, 3, 8, 7)).tolist()
flatten = layers_2.FlattenLayer([3, 4, 5], [60])
outputs["flatten"] = flatten.forward(random.randn(2, 3, 4, 5)).tolist()
fc = layers_1.FullyConnectedLayer(6, 4)
fc.init_param()
fc.load_param(random.randn(6, 4), random.randn(1, 4))
outputs["fc"] = fc.forward(random.randn(3, 6)).tolist()
outputs["relu"] = layers_1.ReLULayer().forward(random.randn(3, 6)).tolist()
outputs["softmax"] = layers_1.SoftmaxLossLayer().forward(random.randn(3, 6)).tolist()
print(json.dumps(outputs))
