import numpy as np


class Graph:
    """Nodes in the order they were added (parents first); backward walks them in reverse."""

    def __init__(self):
        self.nodes = []          # (name, layer or None, parent names)
        self.value = {}

    def input(self, name):
        self.nodes.append((name, None, []))

    def add(self, name, layer, inputs):
        self.nodes.append((name, layer, list(inputs)))

    def forward(self, feeds):
        for name, layer, parents in self.nodes:
            if layer is None:
                self.value[name] = feeds[name]
            else:
                self.value[name] = layer.forward(*[self.value[p] for p in parents])
        return self.value[self.nodes[-1][0]]

    def backward(self, dout):
        grad = {name: np.zeros_like(self.value[name], dtype=float) for name, _, _ in self.nodes}
        grad[self.nodes[-1][0]] = dout
        for name, layer, parents in reversed(self.nodes):
            if layer is None:
                continue
            g = layer.backward(grad[name])
            if not isinstance(g, tuple):
                g = (g,)
            for p, gp in zip(parents, g):
                grad[p] += gp        # a value used by several nodes collects every contribution
        return grad
