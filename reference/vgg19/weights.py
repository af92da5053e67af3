"""Where the VGG19 weights come from: a given file, $HARNESS_VGG19_WEIGHTS, or the synthetic cache.

Nothing is ever downloaded: the real imagenet-vgg-verydeep-19.mat (576 MB) is
used only when someone points at it; otherwise the synthetic weights of
:mod:`reference.vgg19.synthetic` are written once into a cache directory
($HARNESS_CACHE_DIR, else ~/.cache/nnlab-harness) and reused. The file name
carries the generator's version, the seed and a digest of the images the
generator calibrates on, so a change to either writes a new file.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from . import matconvnet, preprocess, synthetic

WEIGHTS_ENV = "HARNESS_VGG19_WEIGHTS"
CACHE_ENV = "HARNESS_CACHE_DIR"
DEFAULT_CACHE_DIR = Path("~/.cache/nnlab-harness")


def default_cache_dir() -> Path:
    """$HARNESS_CACHE_DIR, else ~/.cache/nnlab-harness."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()


def synthetic_weights_name(seed: int = 0) -> str:
    """e.g. 'vgg19-synthetic-v1-seed0-3f2a9c1d.mat'."""
    digest = hashlib.sha256()
    for name in synthetic.CALIBRATION_IMAGES:
        digest.update(preprocess.shipped_image(name).read_bytes())
    return f"vgg19-synthetic-v{synthetic.GENERATOR_VERSION}-seed{seed}-{digest.hexdigest()[:8]}.mat"


def synthetic_weights_path(seed: int = 0, cache_dir=None) -> Path:
    """The synthetic weights as a .mat file, generated and written on first use, then reused.

    Concurrent first uses may each generate the file; the atomic write makes
    the last one win with identical contents.
    """
    directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = directory / synthetic_weights_name(seed)
    if not path.is_file():
        matconvnet.write_params(path, synthetic.synthetic_params(seed))
    return path


def resolve_weights(path=None) -> Path:
    """An explicit path, else $HARNESS_VGG19_WEIGHTS, else the synthetic weights; never downloads."""
    if path is not None:
        return _existing(path, "the weights path given")
    if os.environ.get(WEIGHTS_ENV):
        return _existing(os.environ[WEIGHTS_ENV], f"${WEIGHTS_ENV}")
    return synthetic_weights_path()


def _existing(path, origin: str) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise FileNotFoundError(f"{path}: no such VGG19 weights file ({origin}); nothing is downloaded, "
                                "point at a local imagenet-vgg-verydeep-19.mat or leave it unset for synthetic weights")
    return resolved
