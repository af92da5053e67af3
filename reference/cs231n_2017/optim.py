"""cs231n/optim.py of spring 2017: adam's t starts at 1 (still incremented before use); the rest is
reference.cs231n.optim's."""
from reference.cs231n import optim as _base


def __getattr__(name):
    return getattr(_base, name)


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("t", 1)
    return _base.adam(w, dw, config)
