"""framework/graph.py: a feed-forward computation graph (the notes' 一: result array, gradient array,
parents of each node, output and gradient functions).

    g = Graph()
    g.input("x")                          a node whose value forward() is given
    g.add("h", Linear(4, 5), ["x"])       a node: the layer applied to earlier nodes' values, in order
    g.add("a", ReLU(), ["h"])
    g.add("s", Sigmoid(), ["h"])          h feeds two nodes
    g.add("y", Add(), ["a", "s"])
    out = g.forward({"x": x})             every node in the order added; returns the last node's value
    grads = g.backward(dout)              dout: d loss / d (last node); returns {node name: gradient}

Nodes are added after their parents, so the order added is a topological order: backward walks it in
reverse and ADDS each node's contribution into its parents' gradients (a value used by several nodes
gets the sum), starting from zeros at every backward. A layer object is used by one node only.
"""
import numpy as np


def accumulate(current, contribution):
    """A parent's gradient after one more child's contribution (the sum over the children)."""
    return contribution if current is None else current + contribution


class Graph(object):
    def __init__(self):
        self.order, self.layers, self.parents, self.values = [], {}, {}, {}

    def input(self, name):
        self.order.append(name)
        self.parents[name] = []

    def add(self, name, layer, inputs):
        self.order.append(name)
        self.layers[name], self.parents[name] = layer, list(inputs)

    def forward(self, feeds):
        for name in self.order:
            if name in self.layers:
                self.values[name] = self.layers[name].forward(*[self.values[p] for p in self.parents[name]])
            else:
                self.values[name] = feeds[name]
        return self.values[self.order[-1]]

    def backward(self, dout):
        grads = {name: None for name in self.order}
        grads[self.order[-1]] = dout
        for name in reversed(self.order):
            if name not in self.layers or grads[name] is None:
                continue
            result = self.layers[name].backward(grads[name])
            parent_grads = result if isinstance(result, tuple) else (result,)
            for parent, gradient in zip(self.parents[name], parent_grads):
                grads[parent] = accumulate(grads[parent], gradient)
        return {name: (np.zeros_like(self.values[name]) if gradient is None else gradient)
                for name, gradient in grads.items()}
