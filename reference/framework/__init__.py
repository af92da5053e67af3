"""The computation-graph framework of the notes (seed "深度学习计算框架实现"), as the framework lab defines it.

    layers.py   Linear, Sigmoid, ReLU, Conv2d (strided, or padding="same"), MaxPool2d, AvgPool2d,
                BatchNorm1d, BatchNorm2d, Add
    losses.py   BCELoss (binary cross-entropy on probabilities), SoftmaxCrossEntropyLoss (SCE on scores)
    models.py   MLP (Linear - Sigmoid ... - Linear), BasicBlock and Bottleneck (residual, projection shortcut)
    graph.py    Graph: nodes applying layers to earlier nodes; backward accumulates the gradient of a value
                used by several nodes

The interface every layer follows is specs/framework.md's (``params`` and ``grads`` dicts, ``forward``,
``backward``, ``training``). As reference.aics and reference.cs231n, it is the expected values of the
framework lab's checks, the correct submission the mutation tests patch (every computation is a
module-level kernel function: ``layers.conv_forward``, ``graph.accumulate`` ...), and executable
documentation of the interface. The kernels delegate to the proven functions of reference.layers.
"""
