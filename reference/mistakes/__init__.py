"""The catalogue of mistakes students make in these labs, each a small variant of a correct kernel.

A ``Mistake`` replaces one kernel of the course-layout reference
(reference.aics: ``conv_forward``, ``pool_backward``, ``style_loss_backward``
...) by a function with the same signature that computes what the mistaken
code computes. Two users:

* harness.diagnose runs the variants on a failing check's inputs; when one
  reproduces the student's output, the report says which mistake it is, in
  plain words;
* the spec mutation tests patch each variant into reference.aics and require
  that every lab fails at least one check.

``correct_variants()`` are the opposite: different but correct ways to write a
kernel (float32 arithmetic, another loop order, another tie rule, ReLU's
gradient taken as 1 at exactly 0) that every spec must accept.

Kernel signatures (the course's layouts: NCHW, conv weight [Cin, K, K, Cout]):
    conv_forward(x, weight, bias, padding, stride) -> out
    conv_backward(dout, x, weight, padding, stride) -> (dx, d_weight, d_bias)
    pool_forward(x, kernel, stride) -> out
    pool_backward(dout, x, kernel, stride) -> dx
    fc_forward(x, weight, bias) -> out;  fc_backward(dout, x, weight, bias) -> (dx, d_weight, d_bias)
    relu_forward(x) -> out;  relu_backward(dout, x) -> dx
    softmax_forward(logits) -> prob;  cross_entropy(prob, labels) -> loss;  softmax_backward(prob, labels) -> d_logits
    flatten_forward(x) -> out;  flatten_backward(dout, input_shape) -> dx
    content_loss_forward(x, target) / style_loss_forward(x, style) -> loss
    content_loss_backward(x, target) / style_loss_backward(x, style) -> dx
    adam_update(param, grad, state, lr) -> (param, state)
"""
from . import cs231n as _cs231n
from . import dlp as _dlp
from . import framework as _framework
from .catalogue import MISTAKES as _AICS_MISTAKES
from .catalogue import CorrectVariant, Mistake, correct_variants  # noqa: F401

# Each lab family's mistakes live in a module of their own; MISTAKES is all of them.
MISTAKES = _AICS_MISTAKES + _cs231n.MISTAKES + _framework.MISTAKES + _dlp.MISTAKES


def by_kernel(kernel: str) -> list[Mistake]:
    return [mistake for mistake in MISTAKES if mistake.kernel == kernel and mistake.variant is not None]
