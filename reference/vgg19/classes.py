"""The 1000 ImageNet (ILSVRC-2012) classes in the standard order, as VGG19's fc8 outputs them.

data/synset_words.txt is the classic Caffe file the AICS DLP lab reads
(``../synset_words.txt``): one line per class, ``<WordNet id> <names>``, e.g.
line 282 (index 281) ``n02123045 tabby, tabby cat``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SYNSET_WORDS = Path(__file__).resolve().parent / "data" / "synset_words.txt"
NUM_CLASSES = 1000


@dataclass(frozen=True)
class ImageNetClass:
    wordnet_id: str        # e.g. "n02123045"
    names: str             # e.g. "tabby, tabby cat"


@functools.cache
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """All 1000 classes, index = fc8 output index."""
    classes = []
    for line in SYNSET_WORDS.read_text(encoding="ascii").splitlines():
        wordnet_id, names = line.split(" ", 1)
        classes.append(ImageNetClass(wordnet_id, names))
    if len(classes) != NUM_CLASSES:
        raise RuntimeError(f"{SYNSET_WORDS}: {len(classes)} classes, expected {NUM_CLASSES}")
    return tuple(classes)


def class_names() -> list[str]:
    """The names of every class ('tabby, tabby cat'), index = fc8 output index."""
    return [entry.names for entry in imagenet_classes()]


def top_k(probabilities, k: int = 5) -> list[tuple[int, str, float]]:
    """The ``k`` most probable classes of one image as (index, names, probability), best first.

    ``probabilities`` is [1000] or [1, 1000]; ties keep the lower index first.
    """
    row = np.asarray(probabilities, dtype=np.float64)
    if row.ndim == 2 and row.shape[0] == 1:
        row = row[0]
    if row.shape != (NUM_CLASSES,):
        raise ValueError(f"expected probabilities of shape ({NUM_CLASSES},) or (1, {NUM_CLASSES}), got {row.shape}")
    order = np.argsort(-row, kind="stable")[:k]
    names = class_names()
    return [(int(index), names[index], float(row[index])) for index in order]
