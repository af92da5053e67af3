"""The one exception type reference/ raises for bad arguments."""


class LayerArgumentError(ValueError):
    """An argument to a reference layer is invalid; the message names it."""
