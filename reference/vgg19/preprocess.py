"""Image preprocessing exactly as the AICS labs do it, with Pillow in place of scipy.misc.

The labs read an image with ``scipy.misc.imread`` (RGB, uint8), resize it with
``scipy.misc.imresize(image, [224, 224, 3])``, convert to float, subtract the
per-channel mean and transpose to NCHW with batch 1. ``imresize`` (SciPy <= 1.2,
misc/pilutil.py) turned the uint8 array into a PIL image unchanged (bytescale
leaves uint8 alone), reversed the size to (width, height) and called
``Image.resize(size, resample=Image.BILINEAR)``; :func:`resize_bilinear` is that
call. The style lab's ``save_image`` undoes the steps: NCHW -> HWC, add the
mean, clip to 0..255, uint8, resize back to the original shape, save.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

DATA_DIR = Path(__file__).resolve().parent / "data"
SHIPPED_IMAGES = ("sample", "content", "style")
NETWORK_SIZE = (224, 224)


class ImageReadError(ValueError):
    """An image file is missing, unreadable or not an image; the message names the path."""


def shipped_image(name: str) -> Path:
    """Path of a procedural image shipped with the project: 'sample', 'content' or 'style'."""
    if name not in SHIPPED_IMAGES:
        raise ValueError(f"no shipped image {name!r}; choose one of {', '.join(SHIPPED_IMAGES)}")
    return DATA_DIR / f"{name}.jpg"


def load_rgb(path) -> np.ndarray:
    """Read an image file as uint8 RGB, [H, W, 3]; grayscale, RGBA, palette and CMYK become RGB."""
    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        # Pillow raises OSError for truncated data and SyntaxError for some broken headers.
        raise ImageReadError(f"{path}: not a readable image ({error})") from None


def resize_bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``scipy.misc.imresize(image, [h, w, 3])``: Pillow bilinear on uint8 HWC; size is (height, width)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"resize_bilinear needs a uint8 [H, W, 3] image, got {image.dtype} {image.shape}")
    height, width = size
    resized = Image.fromarray(image).resize((width, height), resample=Image.Resampling.BILINEAR)
    return np.asarray(resized)


def to_network_input(image: np.ndarray, mean_rgb) -> np.ndarray:
    """uint8 (or float) RGB [H, W, 3] -> float32 [1, 3, H, W] with the per-channel mean subtracted.

    The labs do ``image.astype(np.float32)`` and then ``image -= mean`` in place: the
    difference is taken in the mean's precision and rounded to float32, as here.
    """
    centred = (np.asarray(image).astype(np.float32) - np.asarray(mean_rgb)).astype(np.float32)
    return np.ascontiguousarray(centred.transpose(2, 0, 1)[None])


def from_network_output(image: np.ndarray, mean_rgb) -> np.ndarray:
    """[1, 3, H, W] mean-subtracted -> uint8 RGB [H, W, 3]: add the mean, clip to 0..255, truncate.

    ``astype(np.uint8)`` truncates towards zero, as the lab's save_image does.
    """
    image = np.asarray(image)
    if image.ndim != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"expected a [1, 3, H, W] image, got shape {image.shape}")
    restored = image[0].transpose(1, 2, 0) + np.asarray(mean_rgb)
    return np.clip(restored, 0, 255).astype(np.uint8)


def load_network_image(path, mean_rgb, size: tuple[int, int] = NETWORK_SIZE) -> np.ndarray:
    """The classification lab's load_image: read, resize to ``size`` (h, w), subtract the mean, NCHW."""
    return to_network_input(resize_bilinear(load_rgb(path), size), mean_rgb)


def load_image(path, height: int, width: int, mean_rgb) -> tuple[np.ndarray, tuple[int, ...]]:
    """The style lab's load_image: (float32 [1, 3, height, width], the original [H, W, 3] shape)."""
    original = load_rgb(path)
    return to_network_input(resize_bilinear(original, (height, width)), mean_rgb), original.shape


def save_image(image: np.ndarray, original_shape, path, mean_rgb) -> None:
    """The style lab's save_image: back to uint8 RGB, resized to ``original_shape`` [H, W, ...], saved."""
    restored = resize_bilinear(from_network_output(image, mean_rgb), tuple(original_shape[:2]))
    Image.fromarray(restored).save(path)
