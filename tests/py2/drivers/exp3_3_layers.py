# Runs the same under the real Python 2.7 (the submission imported the course's way, from stu_upload/ on
# sys.path) and under Python 3 (``modules``: the harness's loader). The last stdout line is the JSON of the
# outputs; the lines before are what the submission printed.
from __future__ import print_function

import importlib
import json

import numpy as np


def load(name):
    try:
        return modules.import_module(name)          # noqa: F821 (Python 3: the harness's loader)
    except NameError:
        return importlib.import_module("stu_upload." + name)    # Python 2.7, as the course's drivers import


layers_2, layers_3 = load("layers_2"), load("layers_3")
style = load("exp_3_3_style_transfer")
random = np.random.RandomState(7)
outputs = {}
for stride, padding in ((1, 1), (2, 0), (3, 2)):
    x = random.randn(2, 3, 9, 8)
    conv = layers_2.ConvolutionalLayer(3, 3, 4, padding, stride)
    conv.init_param()
    conv.load_param(random.randn(3, 3, 3, 4), random.randn(4))
    y = conv.forward_raw(x)
    outputs["conv%d%d" % (stride, padding)] = y.tolist()
    outputs["conv_back%d%d" % (stride, padding)] = conv.backward_raw(random.randn(*y.shape)).tolist()
    outputs["conv_dw%d%d" % (stride, padding)] = conv.d_weight.tolist()
for kernel, stride in ((2, 2), (3, 2), (2, 1)):
    x = random.randn(2, 3, 7, 9)
    pool = layers_2.MaxPoolingLayer(kernel, stride)
    y = pool.forward_raw(x)
    outputs["pool%d%d" % (kernel, stride)] = y.tolist()
    outputs["pool_back%d%d" % (kernel, stride)] = pool.backward_raw_book(random.randn(*y.shape)).tolist()
content, style_loss = layers_3.ContentLossLayer(), layers_3.StyleLossLayer()
a, b = random.randn(1, 4, 5, 6), random.randn(1, 4, 5, 6)
outputs["content"] = [float(content.forward(a, b)), content.backward(a, b).tolist()]
outputs["style"] = [float(style_loss.forward(a, b)), style_loss.backward(a, b).tolist()]
adam = style.AdamOptimizer(0.1, [1, 4, 5, 6])
for step in range(3):
    a = adam.update(a, b)
outputs["adam"] = a.tolist()
print(json.dumps(outputs))
