"""The files a DLP lab's checks hand the sandboxed child, made once and cached.

* exp 3-2 (VGG19): the weights are the lab's (``--weights``, $HARNESS_VGG19_WEIGHTS
  or the synthetic ones); the quantization parameters are
  $HARNESS_DLP_VGG19_QUANT when set (e.g. the course's vgg19_quant_param_new.npz
  beside the real weights), else calibrated by :func:`quant.calibrate_vgg19` on
  the shipped images and cached next to the synthetic weights.
* exp 2-2 (MLP): synthetic weights in exp 2-1's weight.npy format and their
  calibrated parameters, per hidden sizes and seed.

Everything lives in one directory under the cache ($HARNESS_CACHE_DIR, else
~/.cache/nnlab-harness) ``/dlp``, which the child may read. Files are written
to a temporary name and renamed, so concurrent graders never see half a file.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HarnessError

QUANT_ENV = "HARNESS_DLP_VGG19_QUANT"
FORMAT_VERSION = 1                 # bump when calibration or the generated files change
CALIBRATION_IMAGES = ("sample", "content", "style")


@dataclass
class MlpFiles:
    weights_path: Path
    quant_path: Path
    weights: dict
    quant: object                  # quant.QuantTable


@dataclass
class DlpResources:
    directory: Path
    quant_override: Path | None = None
    memo: dict = field(default_factory=dict)

    @classmethod
    def prepare(cls, quant_path=None) -> "DlpResources":
        """The cache directory (created) and the VGG19 quantization file given by argument or environment."""
        from reference.vgg19 import weights as vgg_weights
        directory = vgg_weights.default_cache_dir() / "dlp"
        directory.mkdir(parents=True, exist_ok=True)
        override = quant_path or os.environ.get(QUANT_ENV) or None
        resources = cls(directory.resolve())
        if override:
            from .quant import QuantFileError, load_npz
            path = Path(override).expanduser().resolve()
            try:
                load_npz(path, layers=19)
            except QuantFileError as error:
                raise HarnessError(f"{error} [VGG19 quantization parameters, ${QUANT_ENV}]") from None
            resources.quant_override = path
        return resources

    def readable_paths(self) -> list[Path]:
        return [self.directory] + ([self.quant_override] if self.quant_override else [])

    def describe(self) -> dict:
        described = {"files": str(self.directory)}
        if "backend" in self.memo:
            described["backend"] = self.memo["backend"]
        if self.quant_override:
            described["vgg19_quant"] = {"path": str(self.quant_override), "source": "given"}
        elif "vgg19_quant" in self.memo:
            described["vgg19_quant"] = {"path": str(self.memo["vgg19_quant"]), "source": "calibrated"}
        return described

    # --- exp 3-2 ---------------------------------------------------------------------------------
    def vgg19_quant(self, lab) -> Path:
        """The VGG19 quantization file for ``lab`` (a LabContext): given, cached, or calibrated now."""
        if self.quant_override:
            return self.quant_override
        if "vgg19_quant" not in self.memo:
            path = self.directory / f"vgg19-quant-v{FORMAT_VERSION}-{_fingerprint(lab.weights_path)}.npz"
            if not path.is_file():
                from reference.vgg19 import preprocess
                from .quant import calibrate_vgg19, save_npz
                images = [preprocess.load_network_image(preprocess.shipped_image(name), lab.vgg_params.mean_rgb)
                          for name in CALIBRATION_IMAGES]
                table = calibrate_vgg19(lab.vgg_params, images, lab.reference_vgg)
                _atomic(path, lambda temporary: save_npz(table, temporary))
            self.memo["vgg19_quant"] = path
        return self.memo["vgg19_quant"]

    # --- exp 2-2 ---------------------------------------------------------------------------------
    def mlp(self, hidden1: int, hidden2: int, seed: int) -> MlpFiles:
        """Synthetic MLP weights (weight.npy format) and their quantization file, made on first use."""
        key = ("mlp", hidden1, hidden2, seed)
        if key not in self.memo:
            from .mlp import digit_images, synthetic_weights, write_weights
            from .quant import calibrate_mlp, load_npz, save_npz
            stem = self.directory / f"mlp-{hidden1}-{hidden2}-seed{seed}-v{FORMAT_VERSION}"
            weights = synthetic_weights(hidden1, hidden2, seed)
            weights_path, quant_path = stem.with_name(stem.name + "-weight.npy"), stem.with_name(stem.name + "-quant.npz")
            if not weights_path.is_file():
                _atomic(weights_path, lambda temporary: write_weights(weights, temporary))
            if not quant_path.is_file():
                table = calibrate_mlp(weights, digit_images(1024, seed=seed + 7))
                _atomic(quant_path, lambda temporary: save_npz(table, temporary))
            self.memo[key] = MlpFiles(weights_path, quant_path, weights, load_npz(quant_path, layers=3))
        return self.memo[key]


def _fingerprint(path: Path) -> str:
    """Names the weights file by where it is, how big and when it was written, and the calibration images."""
    from reference.vgg19 import preprocess
    stat = Path(path).stat()
    digest = hashlib.sha256(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    for name in CALIBRATION_IMAGES:
        digest.update(preprocess.shipped_image(name).read_bytes())
    return digest.hexdigest()[:16]


def _atomic(path: Path, write) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o644)          # the sandboxed child may run as another user
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
