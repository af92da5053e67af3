"""The reference layers, one module per idea (conventions in ``reference/__init__.py``).

    dense        AICS fully connected (weight [in, out]) and CS231n affine
    activations  ReLU (with its subgradient bounds at 0), sigmoid, tanh
    losses       softmax, log-softmax, softmax cross-entropy, the AICS SoftmaxLossLayer,
                 binary cross-entropy, multiclass SVM
    flatten      AICS NCHW -> NHWC -> rows, and the plain NCHW reshape
    norm         batch norm (N, D) and spatial (NCHW) with running statistics, layer norm
    dropout      inverted dropout with a mask reproducible from (seed, shape)
    conv         2-D convolution, OIHW weights, and the AICS / MatConvNet weight layouts
    pool         max, average and global average pooling
    residual     basic and bottleneck residual blocks with projection shortcuts

Optimizers are in ``reference.optim``, the computation graph in ``reference.graph``.
"""
