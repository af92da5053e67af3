"""cs231n/classifiers/cnn.py of 2016-2017: the same ThreeLayerConvNet."""
from reference.cs231n.classifiers import cnn as _base


def __getattr__(name):
    return getattr(_base, name)
