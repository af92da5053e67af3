"""Regenerate the shipped images (sample.jpg, content.jpg, style.jpg) from code.

The course's cat1.jpg, weinisi.jpg and style.jpg cannot be redistributed, so
the project ships procedural stand-ins: smooth shapes, edges and textures, so
that every VGG19 layer sees structure (a flat image would leave most ReLUs in
one state). Everything is seeded; run ``python -m reference.vgg19.data.make_images``
to rewrite the three files. The JPEG bytes depend on the libjpeg Pillow was
built with, the decoded pixels only within JPEG's rounding, which the tests
allow for.

Images are built as float HWC arrays in [0, 1] and saved as RGB JPEGs:

* sample.jpg   300x200 (W x H), not square, so the resize to 224x224 matters
* content.jpg  320x240, a "town by the water" scene for style transfer
* style.jpg    256x256, swirling brush-stroke-like bands
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DATA_DIR = Path(__file__).resolve().parent
JPEG_QUALITY = 90


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (y, x), each in [0, 1), shape [H, W]."""
    y = (np.arange(height) + 0.5) / height
    x = (np.arange(width) + 0.5) / width
    return np.meshgrid(y, x, indexing="ij")


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Value noise: a coarse random grid upsampled bilinearly, in [0, 1], shape [H, W]."""
    coarse = rng.random((cells + 1, cells + 1)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR))


def _paint(canvas: np.ndarray, mask: np.ndarray, colour) -> None:
    """Blend ``colour`` (RGB in [0, 1]) into ``canvas`` [H, W, 3] with coverage ``mask`` [H, W]."""
    canvas += mask[..., None] * (np.asarray(colour) - canvas)


def _soft(signed_distance: np.ndarray, edge: float) -> np.ndarray:
    """Anti-aliased coverage of the region where ``signed_distance`` < 0."""
    return np.clip(0.5 - signed_distance / edge, 0.0, 1.0)


def sample_image(seed: int = 281) -> np.ndarray:
    """A still life: sky gradient, striped cloth, three shaded balls, grain. [200, 300, 3] in [0, 1]."""
    rng = np.random.default_rng(seed)
    height, width = 200, 300
    y, x = _grid(height, width)
    canvas = np.stack([0.35 + 0.4 * y, 0.55 + 0.25 * y, 0.85 - 0.2 * y], axis=-1)
    table = _soft(0.62 - y, 0.01)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (9 * x + 3 * y))
    _paint(canvas, table, [0.55, 0.3, 0.15])
    _paint(canvas, table * stripes * 0.6, [0.9, 0.85, 0.6])
    for centre_x, centre_y, radius, colour in [(0.25, 0.55, 0.17, (0.85, 0.45, 0.1)),
                                               (0.55, 0.62, 0.12, (0.2, 0.6, 0.25)),
                                               (0.78, 0.5, 0.2, (0.6, 0.15, 0.45))]:
        # Radii are fractions of the height; x is stretched so the balls stay round.
        dx, dy = (x - centre_x) * width / height, y - centre_y
        distance = np.hypot(dx, dy)
        shade = np.clip(1.1 - 1.6 * np.hypot(dx + radius / 3, dy + radius / 3) / radius, 0.25, 1.0)
        _paint(canvas, _soft(distance - radius, 0.006), np.zeros(3))
        canvas += _soft(distance - radius, 0.006)[..., None] * shade[..., None] * np.asarray(colour)
    canvas *= 0.85 + 0.3 * _smooth_noise(rng, height, width, 12)[..., None]
    canvas += rng.normal(0.0, 0.02, canvas.shape)
    return np.clip(canvas, 0.0, 1.0)


def content_image(seed: int = 33) -> np.ndarray:
    """Houses by a canal under a hazy sky, with their reflections. [240, 320, 3] in [0, 1]."""
    rng = np.random.default_rng(seed)
    height, width = 240, 320
    y, x = _grid(height, width)
    canvas = np.stack([0.75 - 0.3 * y, 0.8 - 0.25 * y, 0.95 - 0.2 * y], axis=-1)
    waterline = 0.68
    left = 0.0
    while left < 1.0:
        house_width = rng.uniform(0.08, 0.16)
        roof = rng.uniform(0.25, 0.5)
        colour = rng.uniform([0.5, 0.3, 0.2], [0.95, 0.75, 0.55])
        body = (x >= left) & (x < left + house_width) & (y >= roof) & (y < waterline)
        _paint(canvas, body.astype(float), colour)
        windows = body & (np.sin(2 * np.pi * x / 0.03) > 0.4) & (np.sin(2 * np.pi * y / 0.06) > 0.3)
        _paint(canvas, windows.astype(float) * 0.8, [0.15, 0.15, 0.25])
        left += house_width
    water = y >= waterline
    mirrored_row = np.clip(np.round((2 * waterline - y) * height - 0.5).astype(int), 0, height - 1)
    ripple = (3 * np.sin(2 * np.pi * (40 * y + 2 * x))).astype(int)
    columns = np.clip(np.arange(width)[None, :] + ripple, 0, width - 1)
    reflection = canvas[mirrored_row, columns] * np.array([0.55, 0.65, 0.8])
    canvas = np.where(water[..., None], reflection, canvas)
    canvas *= 0.9 + 0.2 * _smooth_noise(rng, height, width, 16)[..., None]
    canvas += rng.normal(0.0, 0.015, canvas.shape)
    return np.clip(canvas, 0.0, 1.0)


def style_image(seed: int = 500) -> np.ndarray:
    """Swirling bands of blue and yellow, like thick brush strokes. [256, 256, 3] in [0, 1]."""
    rng = np.random.default_rng(seed)
    size = 256
    y, x = _grid(size, size)
    dy, dx = y - 0.45, x - 0.55
    radius, angle = np.hypot(dx, dy), np.arctan2(dy, dx)
    warp = 2.0 * _smooth_noise(rng, size, size, 6)
    bands = 0.5 + 0.5 * np.sin(30 * radius + 3 * angle + warp)
    strokes = 0.5 + 0.5 * np.sin(2 * np.pi * 40 * (x * np.cos(angle) + y * np.sin(angle)))
    deep_blue, pale_yellow = np.array([0.08, 0.15, 0.45]), np.array([0.95, 0.85, 0.35])
    canvas = deep_blue + bands[..., None] * (pale_yellow - deep_blue)
    canvas *= 0.8 + 0.2 * strokes[..., None]
    canvas += rng.normal(0.0, 0.03, canvas.shape)
    return np.clip(canvas, 0.0, 1.0)


MAKERS = {"sample": sample_image, "content": content_image, "style": style_image}


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] float HWC -> uint8 HWC, rounding to nearest."""
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def write_images(directory: Path = DATA_DIR) -> list[Path]:
    """Write every shipped image into ``directory``; return the paths."""
    paths = []
    for name, make in MAKERS.items():
        path = Path(directory) / f"{name}.jpg"
        Image.fromarray(to_uint8(make())).save(path, quality=JPEG_QUALITY, optimize=True)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_images():
        print(f"{written} ({written.stat().st_size} bytes)")
