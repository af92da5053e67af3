"""int8 quantization parameters: calibration and the course's npz format.

A (position, scale) pair maps int8 codes to values as cnml.h states,
``float = fix * 2^position / scale``. For a tensor whose largest magnitude is
``absmax`` the pair is

    position = ceil(log2(absmax / 127)),   scale = 127 * 2^position / absmax   (1 <= scale < 2)

so that absmax maps to code 127 exactly and no value saturates. The course's
own files follow this rule: vgg19_quant_param_new.npz's first input pair
(1, 1.6814) is absmax 151.061 = 255 - 103.939 (the largest mean-subtracted
pixel), mnist_mlp_quant_param.npz's (2, 1.9922) is absmax 255 (raw pixels).

The npz holds two float64 arrays, ``input`` and ``filter``, each the flat
sequence [position_0, scale_0, position_1, scale_1, ...], one pair per conv or
MLP layer in network order; scales are float32 values (pycnml's QuantParam
stores a float). Input pairs are calibrated on the float network's
activations over calibration images, filter pairs on the weights (an MLP's as
float16, the precision pycnml stores them in before quantizing).
"""
from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

INT8_LIMIT = 127


class QuantFileError(ValueError):
    """A quantization parameter file that is missing, unreadable or not in the course's format."""


@dataclass(frozen=True)
class QuantTable:
    """Per conv/MLP layer in network order: (position, scale) of its input and of its filter."""

    input: tuple[tuple[int, float], ...]
    filter: tuple[tuple[int, float], ...]

    def __post_init__(self):
        if len(self.input) != len(self.filter):
            raise ValueError(f"{len(self.input)} input pairs but {len(self.filter)} filter pairs")

    def __len__(self) -> int:
        return len(self.input)


def position_scale(absmax: float) -> tuple[int, float]:
    """The (position, scale) that maps ``absmax`` to int8 code 127; (0, 1.0) for an all-zero tensor."""
    absmax = float(absmax)
    if not math.isfinite(absmax) or absmax < 0:
        raise ValueError(f"cannot quantize a tensor whose largest magnitude is {absmax}")
    if absmax == 0:
        return 0, 1.0
    position = math.ceil(math.log2(absmax / INT8_LIMIT))
    while INT8_LIMIT * 2.0 ** position < absmax:          # log2 rounding at an exact power of two
        position += 1
    while INT8_LIMIT * 2.0 ** (position - 1) >= absmax:
        position -= 1
    return position, float(np.float32(INT8_LIMIT * 2.0 ** position / absmax))


def table_from_absmax(inputs, filters) -> QuantTable:
    return QuantTable(tuple(position_scale(a) for a in inputs), tuple(position_scale(a) for a in filters))


# --- the course's npz ------------------------------------------------------------------------------

def save_npz(table: QuantTable, path) -> Path:
    """Write ``table`` as the course's npz ('input' and 'filter', flat float64 [pos, scale, ...])."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = {key: np.asarray([value for pair in getattr(table, key) for value in (float(pair[0]), float(pair[1]))],
                            dtype=np.float64) for key in ("input", "filter")}
    with open(path, "wb") as handle:           # np.savez would append .npz to a name without it
        np.savez(handle, **flat)
    return path


def load_npz(path, layers: int | None = None) -> QuantTable:
    """Read a course-format npz; with ``layers``, require that many pairs. Raises QuantFileError."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.asarray(data[key]) for key in ("input", "filter") if key in data.files}
            missing = sorted({"input", "filter"} - set(data.files))
    except FileNotFoundError:
        raise QuantFileError(f"{path}: no such quantization parameter file") from None
    except (OSError, ValueError) as error:
        raise QuantFileError(f"{path}: not a readable .npz file ({error})") from None
    if missing:
        raise QuantFileError(f"{path}: no {' or '.join(repr(key) for key in missing)} array (a quantization file "
                             "holds 'input' and 'filter', flat [position, scale, ...] pairs)")
    pairs = {}
    for key, array in arrays.items():
        if array.ndim != 1 or array.size % 2 or array.dtype.kind not in "fi" or not np.all(np.isfinite(array)):
            raise QuantFileError(f"{path}: {key!r} must be a flat array of finite [position, scale] pairs, "
                                 f"got shape {array.shape} of {array.dtype}")
        positions, scales = array[0::2], array[1::2]
        if np.any(positions != np.round(positions)) or np.any(scales <= 0):
            raise QuantFileError(f"{path}: {key!r} has a non-integer position or a scale <= 0")
        pairs[key] = tuple((int(p), float(np.float32(s))) for p, s in zip(positions, scales))
    if len(pairs["input"]) != len(pairs["filter"]):
        raise QuantFileError(f"{path}: {len(pairs['input'])} input pairs but {len(pairs['filter'])} filter pairs")
    if layers is not None and len(pairs["input"]) != layers:
        raise QuantFileError(f"{path}: {len(pairs['input'])} pairs, the network has {layers} conv and fc layers")
    return QuantTable(pairs["input"], pairs["filter"])


# --- calibration -----------------------------------------------------------------------------------

def _absmax(array) -> float:
    return float(np.max(np.abs(array))) if np.size(array) else 0.0


def vgg19_layer_inputs() -> list[tuple[str, str]]:
    """(conv or fc layer, the course layer whose output it reads; "" for the image), in network order."""
    from reference.vgg19.params import LAYER_NAMES
    pairs, previous = [], ""
    for name in LAYER_NAMES:
        if name.startswith(("conv", "fc")):
            pairs.append((name, previous))
        previous = name
    return pairs


def calibrate_vgg19(params, images, model=None) -> QuantTable:
    """(position, scale) pairs for the 16 conv and 3 fc layers of VGG19 with ``params`` (a VGG19Params).

    images: preprocessed NCHW images [N, 3, 224, 224] (mean subtracted), any number.
    model: a reference.vgg19.model.VGG19 of these params (built in float32 if not given).
    """
    from reference.vgg19.model import VGG19
    model = model or VGG19(params, dtype=np.float32)
    layers = vgg19_layer_inputs()
    captured = [name for _, name in layers if name]
    absmax = {name: 0.0 for name in captured + [""]}
    for image in images:
        image = np.asarray(image)[None] if np.ndim(image) == 3 else np.asarray(image)
        absmax[""] = max(absmax[""], _absmax(image))
        activations = model.forward(image.astype(model.dtype), capture=captured)
        for name in captured:
            absmax[name] = max(absmax[name], _absmax(activations[name]))
    filters = [_absmax(params.conv[name][0]) if name.startswith("conv") else _absmax(_fp16(params.fc[name][0]))
               for name, _ in layers]
    return table_from_absmax([absmax[source] for _, source in layers], filters)


def calibrate_mlp(weights: dict, images) -> QuantTable:
    """Pairs for fc1, fc2, fc3 of the exp 2-1/2-2 MLP (weights {'w1': [in, h1], 'b1', ...}) on images [N, 784]."""
    from .mlp import forward_float
    activations = forward_float(weights, np.asarray(images, dtype=np.float64), keep=True)
    inputs = [_absmax(images), _absmax(activations["relu1"]), _absmax(activations["relu2"])]
    filters = [_absmax(_fp16(weights[f"w{index}"])) for index in (1, 2, 3)]
    return table_from_absmax(inputs, filters)


def _fp16(array) -> np.ndarray:
    return np.asarray(array, dtype=np.float32).astype(np.float16)


# --- calibration from files (`harness dlp calibrate`) ------------------------------------------------

def calibrate_files(weights=None, images=None) -> tuple[QuantTable, str]:
    """(the table, what network it is for) from a weights file and calibration image files.

    A .mat (or no weights: $HARNESS_VGG19_WEIGHTS, else the synthetic ones) is VGG19, calibrated on image
    files (default: the three shipped images); a .npy / .npz is exp 2-1's MLP weights (a dict w1, b1, ...,
    read with allow_pickle, so only give it a file you trust), calibrated on an MNIST idx3-ubyte file or
    a .npy of [N, 784] pixels. Raises HarnessError for files it cannot use.
    """
    from ..errors import HarnessError
    weights = Path(weights) if weights is not None else None
    if weights is None or weights.suffix.lower() == ".mat":
        from reference.vgg19 import matconvnet, preprocess
        from reference.vgg19 import weights as vgg_weights
        try:
            params = matconvnet.load_params(vgg_weights.resolve_weights(weights))
        except (FileNotFoundError, matconvnet.WeightsFileError) as error:
            raise HarnessError(str(error)) from None
        paths = images or [preprocess.shipped_image(name) for name in ("sample", "content", "style")]
        try:
            arrays = [preprocess.load_network_image(path, params.mean_rgb) for path in paths]
        except preprocess.ImageReadError as error:
            raise HarnessError(str(error)) from None
        return calibrate_vgg19(params, arrays), "VGG19 (16 conv and 3 fc layers)"
    if weights.suffix.lower() not in (".npy", ".npz"):
        raise HarnessError(f"{weights}: calibrate VGG19 weights (.mat) or exp 2-1's MLP weights (.npy)")
    mlp_weights = _mlp_weights(weights)
    if not images:
        raise HarnessError("MLP calibration needs --images: an MNIST idx3-ubyte file or a .npy of [N, 784] pixels")
    pixels = np.concatenate([_pixels(Path(path), mlp_weights["w1"].shape[0]) for path in images])
    return calibrate_mlp(mlp_weights, pixels), "MLP (3 fc layers)"


def _mlp_weights(path: Path) -> dict:
    from ..errors import HarnessError
    try:
        loaded = np.load(path, allow_pickle=True, encoding="latin1")
        weights = dict(loaded.item() if isinstance(loaded, np.ndarray) else loaded)
    except (OSError, ValueError, TypeError, EOFError, pickle.UnpicklingError) as error:
        raise HarnessError(f"{path}: not exp 2-1's weight file ({error})") from None
    missing = [key for key in ("w1", "b1", "w2", "b2", "w3", "b3") if key not in weights]
    if missing:
        raise HarnessError(f"{path}: no {', '.join(missing)} (exp 2-1's weight.npy holds w1, b1, w2, b2, w3, b3)")
    return {key: np.asarray(weights[key], dtype=np.float64) for key in ("w1", "b1", "w2", "b2", "w3", "b3")}


def _pixels(path: Path, size: int) -> np.ndarray:
    """[N, size] pixels from an MNIST idx3-ubyte file (magic 2051) or a .npy array."""
    from ..errors import HarnessError
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            data = path.read_bytes()
            magic, count, rows, cols = np.frombuffer(data[:16], dtype=">i4")
            if magic != 2051:
                raise ValueError(f"magic number {magic}, not an idx3-ubyte image file (2051)")
            array = np.frombuffer(data, dtype=np.uint8, offset=16, count=count * rows * cols)
    except (OSError, ValueError) as error:
        raise HarnessError(f"{path}: cannot read calibration images ({error})") from None
    array = np.asarray(array, dtype=np.float64).reshape(-1, size) if np.size(array) % size == 0 else None
    if array is None:
        raise HarnessError(f"{path}: the images do not have {size} pixels each")
    return array

