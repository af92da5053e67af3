from __future__ import division
# this module asked for true division


def halves(value):
    return value / 2


def sizes(height, kernel, stride):
    return (height - kernel) // stride + 1
