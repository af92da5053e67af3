"""Read and write imagenet-vgg-verydeep-19.mat, the MatConvNet file the AICS labs load.

The labs read the file like this (vgg_cpu.py ``load_model``)::

    params = scipy.io.loadmat(path)
    weight, bias = params['layers'][0][i][0][0][0][0]     # conv i, or fc at .mat index i - 1
    image_mean = np.mean(params['normalization'][0][0][0], axis=(0, 1))

so the layout that matters is:

* ``layers``: a 1x43 cell of 1x1 structs, in order the 37 conv-part layers
  (conv1_1 ... pool5, the course's names), then fc6, relu6, fc7, relu7, fc8,
  prob. There is no flatten entry, so course layer ``fc6`` (index 38 of the
  44 course names) is .mat index 37.
* conv and fc structs: the FIRST field is ``weights``, a 1x2 cell
  {weight [KH, KW, Cin, Cout] single, bias [1, Cout] single}; then size, pad,
  stride, type ('conv'), name. fc layers are stored as convolutions:
  fc6 [7, 7, 512, 4096], fc7 [1, 1, 4096, 4096], fc8 [1, 1, 4096, 1000].
  The fc bias must load as (1, N): the lab hands it unreshaped to
  FullyConnectedLayer.load_param, which asserts the shape [1, out].
* ``normalization``: a struct whose first field is averageImage [224, 224, 3].
* ``classes``: a struct with ``name`` (WordNet ids) and ``description``
  (class names), each a 1x1000 cell.

:func:`load_params` reads the real file or one written by :func:`write_params`,
with the lab's indexing, and turns the layout into a :class:`VGG19Params`.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import scipy.io

from . import classes
from .params import CONV_PART_NAMES, FC_NAMES, FC_SHAPES, VGG19Params, conv_shapes

MAT_FC_NAMES = ("fc6", "relu6", "fc7", "relu7", "fc8", "prob")
MAT_LAYER_NAMES: tuple[str, ...] = CONV_PART_NAMES + MAT_FC_NAMES     # 43 names, the .mat order
FC_KERNELS = {"fc6": (7, 7, 512, 4096), "fc7": (1, 1, 4096, 4096), "fc8": (1, 1, 4096, 1000)}
AVERAGE_IMAGE_SHAPE = (224, 224, 3)
AVERAGE_IMAGE_WAVES = ((1.0, 0.3), (0.4, 1.0), (-0.7, 0.7))     # per channel: direction of the average image's wave


class WeightsFileError(ValueError):
    """A VGG19 weights file is missing, not a .mat file, or not laid out like imagenet-vgg-verydeep-19.mat."""


# --- reading ---------------------------------------------------------------------------------

def load_params(path) -> VGG19Params:
    """Read a MatConvNet VGG19 .mat the way the labs do; raise WeightsFileError naming what is wrong.

    ``mean_rgb`` is the per-channel mean of the average image, as the labs take
    it, but accumulated in float64: numpy's float32 mean of a [224, 224, 3]
    image can be 1e-5 .. 4e-2 off depending on memory order.
    """
    path = Path(path)
    contents = _loadmat(path)
    layers = _cell_row(contents, "layers", path)
    if len(layers) != len(MAT_LAYER_NAMES):
        raise WeightsFileError(f"{path}: 'layers' has {len(layers)} entries, expected {len(MAT_LAYER_NAMES)} "
                               "(VGG19: 16 conv, 16 relu, 5 pool, fc6, relu6, fc7, relu7, fc8, prob)")
    conv = {name: _conv_layer(path, layers, name) for name in conv_shapes()}
    fc = {name: _fc_layer(path, layers, name) for name in FC_NAMES}
    params = VGG19Params(conv=conv, fc=fc, mean_rgb=_mean_rgb(path, contents), class_names=_class_names(contents))
    params.validate()
    return params


def check_header(path) -> None:
    """Raise WeightsFileError unless ``path`` is a MATLAB file with the variables the labs read
    ('layers', a 1x43 cell, and 'normalization'). Reads the variable headers only: milliseconds,
    where loading the real file takes seconds."""
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path}: no such file")
    try:
        variables = {name: (shape, kind) for name, shape, kind in scipy.io.whosmat(path)}
    except Exception as error:  # as in _loadmat: scipy's readers raise many types on damaged files
        raise WeightsFileError(f"{path}: not a readable MATLAB .mat file ({type(error).__name__}: {error})") from None
    if variables.get("layers") != ((1, len(MAT_LAYER_NAMES)), "cell") or "normalization" not in variables:
        found = ", ".join(f"{name} {shape} {kind}" for name, (shape, kind) in sorted(variables.items())) or "none"
        raise WeightsFileError(f"{path}: not a MatConvNet imagenet-vgg-verydeep-19.mat (expected 'layers' as a "
                               f"1x{len(MAT_LAYER_NAMES)} cell and 'normalization'; found: {found})")


def _loadmat(path: Path) -> dict:
    if not path.is_file():
        raise WeightsFileError(f"{path}: no such file")
    try:
        return scipy.io.loadmat(path)
    except Exception as error:  # scipy raises ValueError, TypeError, MatReadError, struct.error...
        raise WeightsFileError(f"{path}: not a readable MATLAB .mat file ({type(error).__name__}: {error})") from None


def _cell_row(contents: dict, variable: str, path: Path) -> np.ndarray:
    """The 1xN cell ``contents[variable]`` as its row of N entries."""
    if variable not in contents:
        found = ", ".join(sorted(key for key in contents if not key.startswith("__"))) or "none"
        raise WeightsFileError(f"{path}: no '{variable}' variable (variables found: {found}); "
                               "not a MatConvNet imagenet-vgg-verydeep-19.mat")
    value = contents[variable]
    if value.dtype != object or value.ndim != 2 or value.shape[0] != 1:
        raise WeightsFileError(f"{path}: '{variable}' is a {value.dtype} array of shape {value.shape}, expected a 1xN cell")
    return value[0]


def _layer_struct(path: Path, layers: np.ndarray, index: int) -> np.void:
    entry = layers[index]
    if entry.dtype.names is None or entry.size != 1:
        raise WeightsFileError(f"{path}: layers{{{index + 1}}} is not a 1x1 struct")
    return entry[0, 0]


def _weights_pair(path: Path, layers: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``layers[0][i][0][0][0][0]`` as the lab unpacks it, after checking the struct's name and fields."""
    index = MAT_LAYER_NAMES.index(name)
    record = _layer_struct(path, layers, index)
    fields = record.dtype.names
    where = f"{path}: layers{{{index + 1}}} ('{name}')"
    if "name" in fields and _string(record["name"]) != name:
        raise WeightsFileError(f"{where} is named {_string(record['name'])!r}")
    if fields[0] != "weights":
        raise WeightsFileError(f"{where}: the first field is {fields[0]!r}, not 'weights' (the labs read field 0)")
    cell = record[0]
    if cell.dtype != object or cell.shape != (1, 2):
        raise WeightsFileError(f"{where}: 'weights' is not a 1x2 cell {{filters, biases}} (shape {cell.shape})")
    weight, bias = cell[0]
    return weight, bias


def _conv_layer(path: Path, layers: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    weight, bias = _weights_pair(path, layers, name)
    expected = conv_shapes()[name]
    if weight.shape != expected or bias.size != expected[3]:
        raise WeightsFileError(f"{path}: {name} has filters {weight.shape} and {bias.size} biases, "
                               f"expected {expected} and {expected[3]}")
    return np.ascontiguousarray(weight), bias.reshape(-1)


def _fc_layer(path: Path, layers: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    weight, bias = _weights_pair(path, layers, name)
    expected = FC_KERNELS[name]
    # Only the size is checked: the (1, N) bias shape the lab relies on is inferred, not seen in the real file.
    if weight.shape != expected or bias.size != expected[3]:
        raise WeightsFileError(f"{path}: {name} has filters {weight.shape} and {bias.size} biases, "
                               f"expected {expected} and {expected[3]}")
    # The lab's reshape: C order over [KH, KW, Cin], so fc6 rows run in (H, W, C) order.
    return weight.reshape(FC_SHAPES[name]), bias.reshape(-1)


def _mean_rgb(path: Path, contents: dict) -> np.ndarray:
    normalization = contents.get("normalization")
    if normalization is None or normalization.dtype.names is None:
        raise WeightsFileError(f"{path}: no 'normalization' struct (the labs take the image mean from it)")
    average_image = normalization[0][0][0]
    if average_image.ndim != 3 or average_image.shape[2] != 3:
        raise WeightsFileError(f"{path}: normalization's first field has shape {average_image.shape}, "
                               "expected an average image [H, W, 3]")
    return np.mean(average_image, axis=(0, 1), dtype=np.float64)


def _class_names(contents: dict) -> list[str]:
    """The 'description' cell of ``classes`` (empty when the file has none)."""
    classes_struct = contents.get("classes")
    if classes_struct is None or classes_struct.dtype.names is None or "description" not in classes_struct.dtype.names:
        return []
    return [_string(entry) for entry in classes_struct[0, 0]["description"].ravel()]


def _string(value) -> str:
    """A MATLAB char array as loadmat returns it (array(['conv1_1'])) -> 'conv1_1'."""
    return str(np.asarray(value).ravel()[0]) if np.size(value) else ""


# --- writing ---------------------------------------------------------------------------------

def write_params(path, params: VGG19Params) -> None:
    """Write ``params`` as a MatConvNet VGG19 .mat (float32), atomically: temp file, then os.replace.

    Batch graders run in parallel and may share one cache file, so a reader
    sees either no file or a complete one.
    """
    params.validate()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    contents = {
        "layers": _object_row([_layer_entry(params, name) for name in MAT_LAYER_NAMES]),
        "classes": {"name": _object_row([entry.wordnet_id for entry in classes.imagenet_classes()]),
                    "description": _object_row(params.class_names or classes.class_names())},
        "normalization": {"averageImage": _average_image(params.mean_rgb),
                          "keepAspect": np.ones((1, 1)), "border": np.zeros((1, 2)),
                          "imageSize": np.array([[224.0, 224.0, 3.0, 1.0]]), "interpolation": "bilinear"},
    }
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            scipy.io.savemat(stream, contents, format="5", oned_as="row", do_compression=False)
        os.chmod(temporary, 0o644)          # mkstemp creates 0600; other graders' processes read the cache
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _object_row(items) -> np.ndarray:
    """A 1xN MATLAB cell."""
    row = np.empty((1, len(items)), dtype=object)
    for index, item in enumerate(items):
        row[0, index] = item
    return row


def _weights_cell(weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return _object_row([np.asarray(weight, dtype=np.float32), np.asarray(bias, dtype=np.float32).reshape(1, -1)])


def _layer_entry(params: VGG19Params, name: str) -> dict:
    """The struct of one .mat layer; dicts keep their order, so 'weights' is field 0."""
    if name in params.conv:
        weight, bias = params.conv[name]
        return _conv_struct(name, _weights_cell(weight, bias), weight.shape, pad=1)
    if name in params.fc:
        weight, bias = params.fc[name]
        kernel = FC_KERNELS[name]
        return _conv_struct(name, _weights_cell(np.reshape(weight, kernel), bias), kernel, pad=0)
    if name.startswith("pool"):
        return {"name": name, "stride": np.array([[2.0, 2.0]]), "pad": np.zeros((1, 4)), "type": "pool",
                "method": "max", "pool": np.array([[2.0, 2.0]])}
    if name == "prob":
        return {"type": "softmax", "name": name}
    return {"type": "relu", "name": name}


def _conv_struct(name: str, weights: np.ndarray, kernel_shape, pad: int) -> dict:
    return {"weights": weights, "size": np.array([kernel_shape], dtype=np.float64),
            "pad": np.full((1, 4), float(pad)), "stride": np.ones((1, 2)), "type": "conv", "name": name}


def _average_image(mean_rgb) -> np.ndarray:
    """A smooth, non-constant [224, 224, 3] float32 image whose channel means are exactly ``mean_rgb``.

    Each channel is its mean plus a tilted sine wave, odd under a 180-degree
    rotation, quantised to multiples of 2**-10 and within +-2.5. For means in
    [66.5, 125.5) (the ImageNet ones are) every pixel is then exact in float32,
    where the spacing there is at most 2**-17, and the wave sums to exactly
    zero, so the float64 channel mean of the stored image is float32(mean_rgb).
    """
    height, width, _ = AVERAGE_IMAGE_SHAPE
    y = np.linspace(-1.0, 1.0, height)[:, None]
    x = np.linspace(-1.0, 1.0, width)[None, :]
    channels = []
    for mean, (along_x, along_y) in zip(np.asarray(mean_rgb, dtype=np.float32), AVERAGE_IMAGE_WAVES):
        wave = 2.5 * np.sin(0.9 * np.pi * (along_x * x + along_y * y))
        wave = (wave - wave[::-1, ::-1]) / 2            # exactly odd, whatever linspace rounded
        channels.append(mean + (np.round(wave * 1024) / 1024).astype(np.float32))
    return np.stack(channels, axis=-1)
