"""What a batch computes once and its workers share read-only: reference values and the VGG19 weights.

Reference values. Before the first submission, one process computes the inputs and expected values of
every fixed case of the lab (the property checks draw theirs per submission) exactly as the runner
would, and writes them as .npy files with an index (``SharedValues.build``). Each worker opens them
(``SharedValues.open``, memory-mapped) and the runner takes a case's values from there
(``LabContext.shared_values``) instead of running the reference again for every submission: the
style transfer and the VGG19 forward of exp 3-1/3-3 run once per batch, not once per student. A
case whose values are not plain numbers (a kind that hands the child an object) is left to the runner,
as before. Every use gets its own copy of the arrays, so nothing a check does to them reaches the next.

VGG19 weights. The .mat is read once and its layers written as .npy files in the cache
($HARNESS_CACHE_DIR, ~/.cache/nnlab-harness), float32 as the course reads them and float64 as the
reference model computes; every worker maps them (``np.load(mmap_mode="r")``) so N workers share one
copy in the page cache instead of holding 1.7 GB each. The cache is keyed by the file's path, size and
modification time, and written to a temporary folder renamed into place (a concurrent or killed
writer never leaves half a cache).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..adapters import registry
from ..context import LabContext, RunContext
from ..spec import LabSpec

INDEX = "index.json"
VERSION = 1


class SharedValues:
    """Inputs and expected values of a lab's fixed cases, read from a folder ``build`` wrote."""

    def __init__(self, directory: Path, index: dict):
        self.directory = Path(directory)
        self._index = index
        self._arrays: dict[str, np.ndarray] = {}

    @classmethod
    def open(cls, directory: Path) -> "SharedValues | None":
        """The values in ``directory``, or None when it holds none (not built, or by another version)."""
        try:
            index = json.loads((Path(directory) / INDEX).read_text())
        except (OSError, ValueError):
            return None
        return cls(directory, index) if index.get("version") == VERSION else None

    def get(self, check_id: str, case_name: str) -> tuple[dict, dict] | None:
        """(inputs, expected) of the case, fresh copies; None when the case is not shared."""
        entry = self._index["cases"].get(f"{check_id}\0{case_name}")
        if entry is None:
            return None
        return self._values(entry["inputs"]), self._values(entry["expected"])

    def __len__(self) -> int:
        return len(self._index["cases"])

    def _values(self, described: dict) -> dict:
        values = {}
        for name, item in described.items():
            if "file" in item:
                values[name] = np.array(self._array(item["file"]))          # a copy: the mapping stays pristine
            else:
                values[name] = item["value"]
        return values

    def _array(self, file: str) -> np.ndarray:
        if file not in self._arrays:
            self._arrays[file] = np.load(self.directory / file, mmap_mode="r", allow_pickle=False)
        return self._arrays[file]

    @staticmethod
    def build(spec: LabSpec, context: LabContext, directory: Path) -> "SharedValues":
        """Compute every fixed case's inputs and expected values with ``context`` and write them to ``directory``
        (replacing what is there). Raises what the reference raises (a HarnessError names the check and case)."""
        from ..runner import _inputs_and_expected          # the runner's own computation, so values are identical
        directory = Path(directory)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=_parent(directory)))
        run_context = RunContext(context)
        cases, number = {}, 0
        for check in spec.checks:
            if check.is_property:
                continue
            kind = registry.get(check.kind)
            for case in check.cases:
                inputs, expected = _inputs_and_expected(check, kind, case, run_context)
                described = {}
                for part, values in (("inputs", inputs), ("expected", expected)):
                    described[part] = _describe(values, staging, f"{number:05d}-{part[:2]}")
                number += 1
                if described["inputs"] is not None and described["expected"] is not None:
                    cases[f"{check.id}\0{case.name}"] = described
        (staging / INDEX).write_text(json.dumps({"version": VERSION, "lab": spec.lab, "cases": cases}))
        shutil.rmtree(directory, ignore_errors=True)
        staging.replace(directory)
        return SharedValues(directory, json.loads((directory / INDEX).read_text()))


def _parent(directory: Path) -> Path:
    directory.parent.mkdir(parents=True, exist_ok=True)
    return directory.parent


def _describe(values: dict, staging: Path, prefix: str) -> dict | None:
    """name -> {"file"} for arrays and {"value"} for plain scalars; None when a value is neither (not shared)."""
    described = {}
    for index, (name, value) in enumerate(values.items()):
        if isinstance(value, (bool, int, float, str)) or value is None:
            described[name] = {"value": value}
            continue
        if isinstance(value, np.generic):
            value = np.asarray(value)
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biufc":
            return None
        file = f"{prefix}-{index}.npy"
        np.save(staging / file, value, allow_pickle=False)
        described[name] = {"file": file}
    return described


def values_key(spec: LabSpec, context: LabContext, harness_version: str) -> str:
    """What the shared values depend on: the spec, its cases' seeds (a hidden case's mixes in the grader's
    secret), the resources and the harness."""
    seeds = hashlib.sha256(repr([(check.id, case.name, case.seed) for check in spec.checks
                                 for case in check.cases]).encode()).hexdigest()
    parts = [spec.source_sha256, seeds, harness_version, _file_key(context.weights_path), _file_key(context.image_path),
             _file_key(context.content_image_path), _file_key(context.style_image_path)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _file_key(path) -> str:
    if not path:
        return ""
    try:
        status = os.stat(path)
    except OSError:
        return str(path)
    return f"{Path(path).resolve()}:{status.st_size}:{status.st_mtime_ns}"


# --- VGG19 weights, memory-mapped -------------------------------------------------------------------------

def map_vgg_weights(context: LabContext, cache_dir: Path | None = None) -> bool:
    """Give ``context`` memory-mapped VGG19 parameters (float32, ``vgg_params``) and a reference model on
    float64 maps (``reference_vgg``), writing the .npy cache first when it is missing. False when the lab
    uses no weights."""
    if context.weights_path is None:
        return False
    directory = _vgg_cache(Path(context.weights_path), cache_dir)
    from reference.vgg19.model import VGG19
    context.vgg_params = _mapped_params(directory, "32")              # cached_property: set once, here
    context.reference_vgg = VGG19(_mapped_params(directory, "64"))     # float64 maps: the model copies nothing
    return True


def _vgg_cache(weights: Path, cache_dir: Path | None) -> Path:
    from reference.vgg19.weights import default_cache_dir
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    directory = root / "vgg19-npy" / hashlib.sha256(_file_key(weights).encode()).hexdigest()[:16]
    if (directory / INDEX).is_file():
        return directory
    from reference.vgg19 import matconvnet
    params = matconvnet.load_params(weights)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=_parent(directory)))
    for group, layers in (("conv", params.conv), ("fc", params.fc)):
        for name, (weight, bias) in layers.items():
            for bits, dtype in (("32", np.float32), ("64", np.float64)):
                np.save(staging / f"{name}.weight.{bits}.npy", np.ascontiguousarray(weight, dtype=dtype))
                np.save(staging / f"{name}.bias.{bits}.npy", np.ascontiguousarray(bias, dtype=dtype))
    np.save(staging / "mean_rgb.npy", np.asarray(params.mean_rgb))
    (staging / INDEX).write_text(json.dumps({"version": VERSION, "source": str(weights), "conv": list(params.conv),
                                             "fc": list(params.fc), "class_names": list(params.class_names)}))
    try:
        staging.rename(directory)
    except OSError:                     # another process wrote it first: theirs is as good
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def _mapped_params(directory: Path, bits: str):
    from reference.vgg19.params import VGG19Params
    index = json.loads((directory / INDEX).read_text())

    def pair(name):
        return (np.load(directory / f"{name}.weight.{bits}.npy", mmap_mode="r"),
                np.load(directory / f"{name}.bias.{bits}.npy", mmap_mode="r"))

    return VGG19Params(conv={name: pair(name) for name in index["conv"]}, fc={name: pair(name) for name in index["fc"]},
                       mean_rgb=np.load(directory / "mean_rgb.npy"), class_names=list(index["class_names"]))
