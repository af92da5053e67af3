"""The AICS course's classes, written correctly, in the course's files and interfaces.

layers_1 (FullyConnectedLayer, ReLULayer, SoftmaxLossLayer), layers_2
(ConvolutionalLayer and MaxPoolingLayer with raw and speedup paths,
FlattenLayer), layers_3 (ContentLossLayer, StyleLossLayer) and the Adam
optimizer of exp_3_3_style_transfer. They serve three purposes:

* the peer the speedup checks calibrate against: the raw paths are the loops
  the course template prescribes (four loops, a window sum per output), the
  speedup paths the reference's fast functions, timed in the same run;
* the correct submission the spec mutation tests start from
  (reference.mistakes patches one kernel function at a time);
* executable documentation of the course interfaces.

Every computation goes through a module-level kernel function (``conv_forward_raw``,
``conv_forward_speedup``, ...), so a mutation patches exactly one of them in
this package without touching the functions the harness computes expected
values with.
"""
