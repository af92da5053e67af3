"""framework/losses.py: ``forward(input, target) -> loss`` (a float), ``backward() -> d input``.

BCELoss: input probabilities (after a Sigmoid), targets in [0, 1] of the same shape, the mean over ALL
elements of -(y log p + (1 - y) log(1 - p)) (the notes divide their 2 x 3 example by 6).
SoftmaxCrossEntropyLoss (the notes' SCE): input scores (N, C), integer labels (N,), the mean over the
batch of -log softmax(scores)[n, label]; its gradient (softmax - onehot) / N.
"""
from reference.layers import losses as _losses


def bce_forward(prob, target):
    return _losses.binary_cross_entropy(prob, target)[0]


def bce_backward(prob, target):
    return _losses.binary_cross_entropy(prob, target)[1]


def sce_forward(scores, labels):
    return _losses.softmax_cross_entropy(scores, labels)[0]


def sce_backward(scores, labels):
    return _losses.softmax_cross_entropy(scores, labels)[1]


class BCELoss(object):
    def forward(self, prob, target):
        self.prob, self.target = prob, target
        return bce_forward(prob, target)

    def backward(self):
        return bce_backward(self.prob, self.target)


class SoftmaxCrossEntropyLoss(object):
    def forward(self, scores, labels):
        self.scores, self.labels = scores, labels
        return sce_forward(scores, labels)

    def backward(self):
        return sce_backward(self.scores, self.labels)
