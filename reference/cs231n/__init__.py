"""CS231n assignment 2's files, written correctly, in the course's layout and interfaces (spring 2018 to 2020).

    layers.py             affine, relu, svm and softmax losses, batch/layer/group norm, dropout (p = KEEP
                          probability), naive convolution and max pooling, each forward returning (out, cache)
    optim.py              sgd, sgd_momentum, rmsprop, adam: update(w, dw, config=None) -> (next_w, config)
    classifiers/fc_net.py TwoLayerNet, FullyConnectedNet(hidden_dims, ..., dropout=1, normalization=None)
    classifiers/cnn.py    ThreeLayerConvNet (conv - relu - 2x2 max pool - affine - relu - affine - softmax)

Like reference.aics, it serves three purposes: the expected values of the
statement-driven checks (harness.adapters.function runs a spec's statements on
this package in the grading process), the correct submission the spec mutation
tests patch one kernel at a time (reference.mistakes.cs231n), and executable
documentation of the course interfaces. Every computation is delegated to the
proven functions of reference.layers and reference.optim; the classifiers call
the layer functions through the module (``layers.affine_forward``), so a patched
kernel reaches them too. The caches are this package's own (the course leaves
them to the student): dicts or tuples of the forward's inputs.

Source of the interfaces: the official spring1718 and 2019/2020 assignment2
skeletons (cs231n/cs231n.github.io, assignments/<year>/); see
/work/shared/notes/cs231n_dlp.md, part A.
"""
