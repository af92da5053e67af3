import numpy as np


class BCELoss:
    def forward(self, prob, target):
        self.prob, self.target = prob, target
        return -np.mean(target * np.log(prob) + (1 - target) * np.log(1 - prob))

    def backward(self):
        n = self.prob.size
        return (-self.target / self.prob + (1 - self.target) / (1 - self.prob)) / n


class SoftmaxCrossEntropyLoss:
    def forward(self, scores, labels):
        shifted = scores - scores.max(axis=1, keepdims=True)
        self.prob = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        self.labels = labels
        n = scores.shape[0]
        return -np.log(self.prob[np.arange(n), labels]).mean()

    def backward(self):
        n = self.prob.shape[0]
        d = self.prob.copy()
        d[np.arange(n), self.labels] -= 1
        return d / n
