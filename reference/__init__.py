"""Numpy reference implementations of the layers, losses and optimizers of the labs.

Everything the harness checks student code against comes from here, so every
function is proven in tests/reference against PyTorch (float64) and against
central finite differences.

Conventions (all modules follow them):

* Feature maps are NCHW. Convolution weights are OIHW, ``[Cout, Cin, KH, KW]``
  (the PyTorch and CS231n layout); the AICS layout ``[Cin, K, K, Cout]`` and the
  MatConvNet layout ``[KH, KW, Cin, Cout]`` are converted at the edges
  (``reference.layers.conv``).
* Layers are pure functions. ``<layer>_forward(x, ...) -> out`` and
  ``<layer>_backward(dout, x, ...) -> dx`` or a tuple ``(dx, dweight, ...)``;
  a backward takes the forward's inputs and recomputes what it needs, so no
  hidden cache travels between the two.
* Each layer also has ``<layer>_forward_loop`` / ``<layer>_backward_loop``: the
  plain loop version written like the formula. They are executable
  documentation and the tests prove the fast versions equal them.
* float64 by default; any float dtype is accepted and the result has the
  inputs' result type (float32 in, float32 out). Integer inputs compute in
  float64.
* Invalid arguments raise :class:`reference.errors.LayerArgumentError` (a
  ``ValueError``) whose message names the argument and its value.
"""
