"""A small computation graph over the reference layers (framework notes 一: 前馈计算图).

The notes keep a result array, a gradient array, each node's parent list, an
output function and a gradient function per node, with every parent created
before its children (Pa(i) = j implies i > j). So does this: ``Graph.nodes``
is in creation order, which is a topological order, so

* ``forward()`` computes every node from its parents' values in that order;
* ``backward(output)`` zeroes every gradient, seeds ``output.grad`` with ones,
  and walks the nodes in reverse, each adding (``+=``) its share into its
  parents' gradients. A node used by several children ends up with the SUM of
  their contributions, which is why gradients are accumulated, not assigned,
  and why they are zeroed at the start of each backward.

Each operation is a node holding two functions of its parents' values,
``forward(*values) -> value`` and ``backward(dout, *values) -> one gradient
per parent``, built from the reference layers (micrograd's layout: an op's
forward and backward sit together). Leaves are inputs and parameters; their
values may be reassigned between forward passes.

    g = Graph()
    x = g.input("x", images)
    w = g.parameter("w", weight)
    loss = g.softmax_cross_entropy(g.dense(g.flatten(x), w, g.parameter("b", bias)), labels)
    g.forward(); g.backward(loss)          # now w.grad holds dloss/dw
"""
from __future__ import annotations

import numpy as np

from .errors import LayerArgumentError
from .layers import activations, conv, dense, flatten, losses, norm, pool


class Node:
    """One array of the graph: the op that computes it from its parents, its value and dL/dvalue."""

    def __init__(self, name, parents=(), forward=None, backward=None, trainable=False):
        self.name = name
        self.parents = tuple(parents)
        self.forward = forward    # (*parent values) -> value; None for a leaf
        self.backward = backward  # (dout, *parent values) -> one gradient per parent
        self.trainable = trainable
        self.state = {}           # what an op keeps between passes (batch norm's running statistics)
        self.value = None
        self.grad = None

    def __repr__(self):
        shape = None if self.value is None else np.shape(self.value)
        return f"Node({self.name!r}, parents={[parent.name for parent in self.parents]}, shape={shape})"


class Graph:
    def __init__(self):
        self.nodes: list[Node] = []

    def _add(self, node: Node) -> Node:
        for parent in node.parents:
            if not any(parent is known for known in self.nodes):
                raise LayerArgumentError(f"parent {parent!r} of {node.name!r} is not a node of this graph")
        self.nodes.append(node)
        return node

    def _op(self, kind, parents, forward, backward) -> Node:
        return self._add(Node(f"{kind}{len(self.nodes)}", parents, forward, backward))

    # --- leaves ---------------------------------------------------------------------------------

    def input(self, name, value) -> Node:
        node = self._add(Node(name))
        node.value = np.asarray(value)
        return node

    def parameter(self, name, value) -> Node:
        node = self._add(Node(name, trainable=True))
        node.value = np.asarray(value)
        return node

    def parameters(self) -> list[Node]:
        return [node for node in self.nodes if node.trainable]

    # --- operations -----------------------------------------------------------------------------

    def dense(self, x, weight, bias) -> Node:
        """x [N, in] @ weight [in, out] + bias [out] or [1, out] (reference.layers.dense.fc_*)."""
        return self._op("dense", (x, weight, bias), dense.fc_forward, dense.fc_backward)

    def relu(self, x) -> Node:
        return self._op("relu", (x,), activations.relu_forward, lambda dout, xv: (activations.relu_backward(dout, xv),))

    def add(self, a, b) -> Node:
        """Element-wise a + b of equal shapes (a residual connection)."""
        def forward(av, bv):
            if np.shape(av) != np.shape(bv):
                raise LayerArgumentError(f"add needs equal shapes, got {np.shape(av)} and {np.shape(bv)}")
            return av + bv
        return self._op("add", (a, b), forward, lambda dout, av, bv: (dout, dout))

    def conv(self, x, weight, stride=1, padding=0) -> Node:
        """x NCHW (*) weight OIHW, no bias (reference.layers.conv.conv2d_*)."""
        return self._op("conv", (x, weight),
                        lambda xv, wv: conv.conv2d_forward(xv, wv, None, stride, padding),
                        lambda dout, xv, wv: conv.conv2d_backward(dout, xv, wv, stride, padding)[:2])

    def batch_norm(self, x, gamma, beta, mode="train", momentum=0.9, eps=1e-5,
                   running_mean=None, running_var=None) -> Node:
        """Batch norm of x (N, D) or spatial batch norm of x NCHW (reference.layers.norm). node.state keeps
        the running statistics: every train-mode forward updates them, test mode normalises with them."""
        state = {"running_mean": running_mean, "running_var": running_var}

        def layers(xv):
            spatial = np.ndim(xv) == 4
            return ((norm.spatial_batchnorm_forward, norm.spatial_batchnorm_backward) if spatial
                    else (norm.batchnorm_forward, norm.batchnorm_backward))

        def forward(xv, gv, bv):
            out, state["running_mean"], state["running_var"] = layers(xv)[0](
                xv, gv, bv, state["running_mean"], state["running_var"], mode=mode, momentum=momentum, eps=eps)
            return out

        def backward(dout, xv, gv, bv):
            return layers(xv)[1](dout, xv, gv, state["running_mean"], state["running_var"], mode=mode, eps=eps)

        node = self._op("batch_norm", (x, gamma, beta), forward, backward)
        node.state = state
        return node

    def flatten(self, x) -> Node:
        """(N, d1, ..., dk) -> (N, d1*...*dk), row-major (NCHW read as C, H, W)."""
        return self._op("flatten", (x,), flatten.flatten_forward,
                        lambda dout, xv: (flatten.flatten_backward(dout, np.shape(xv)),))

    def global_avg_pool(self, x) -> Node:
        """NCHW -> [N, C, 1, 1], the mean over H and W."""
        return self._op("global_avg_pool", (x,), pool.global_avgpool_forward,
                        lambda dout, xv: (pool.global_avgpool_backward(dout, xv),))

    def softmax_cross_entropy(self, logits, labels) -> Node:
        """The scalar mean over the batch of -log softmax(logits)[n, labels[n]]; labels are constants."""
        labels = np.asarray(labels)
        return self._op("softmax_cross_entropy", (logits,),
                        lambda lv: np.asarray(losses.softmax_cross_entropy(lv, labels)[0]),
                        lambda dout, lv: (dout * losses.softmax_cross_entropy(lv, labels)[1],))

    # --- passes ---------------------------------------------------------------------------------

    def forward(self) -> None:
        """Compute every operation's value from its parents', in creation (topological) order."""
        for node in self.nodes:
            if node.forward is not None:
                node.value = node.forward(*(parent.value for parent in node.parents))

    def backward(self, output: Node) -> None:
        """d(sum of output) / d(every node), into node.grad; zeroed first, accumulated over children."""
        position = next((index for index, node in enumerate(self.nodes) if node is output), None)
        if position is None:
            raise LayerArgumentError(f"output {output!r} is not a node of this graph")
        if output.value is None:
            raise LayerArgumentError(f"output {output.name!r} has no value: call forward() first")
        for node in self.nodes:
            node.grad = None if node.value is None else np.zeros_like(node.value, dtype=np.result_type(node.value, 0.0))
        output.grad = np.ones_like(output.grad)
        for node in reversed(self.nodes[:position + 1]):
            if node.backward is None:
                continue
            parent_grads = node.backward(node.grad, *(parent.value for parent in node.parents))
            for parent, grad in zip(node.parents, parent_grads):
                parent.grad += grad
