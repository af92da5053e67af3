"""The resources a lab's checks share: weights, images, the reference model, memoised runs.

A ``LabContext`` lives as long as a grading run (one process grading one or
many submissions), so the reference VGG19 and expected values computed for
one submission are reused for the next. A ``RunContext`` adds what belongs to
one submission only: results of child runs that several checks compare
(vgg19.pool5, vgg19.softmax and vgg19.top1 share one forward pass).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from .errors import HarnessError
from .spec import LabSpec


@dataclass
class LabContext:
    spec: LabSpec
    weights_path: Path | None = None
    weights_source: str = ""            # "synthetic" | "given" | "environment"
    image_path: Path | None = None
    content_image_path: Path | None = None
    style_image_path: Path | None = None
    expected_memo: dict = field(default_factory=dict)
    kit_store: object | None = None     # a harness.kit.KitStore in kit mode: inputs and expected values from a file
    kit_dir: Path | None = None
    dlp: object | None = None           # harness.dlp.resources.DlpResources of a DLP lab (exp 2-2, 3-2)
    # harness.batch.shared.SharedValues: a batch's inputs and expected values of fixed cases, computed once per run
    shared_values: object | None = None

    @functools.cached_property
    def vgg_params(self):
        from reference.vgg19 import matconvnet
        try:
            return matconvnet.load_params(self.weights_path)
        except (OSError, ValueError) as error:
            raise HarnessError(f"{self.weights_path}: cannot read VGG19 weights: {error}") from None

    @functools.cached_property
    def reference_vgg(self):
        from reference.vgg19.model import VGG19
        return VGG19(self.vgg_params)

    def resources(self) -> dict:
        """What the result records about the inputs it was graded with."""
        described = {}
        if self.weights_path:
            described["weights"] = {"path": str(self.weights_path), "source": self.weights_source}
        for key in ("image_path", "content_image_path", "style_image_path"):
            value = getattr(self, key)
            if value:
                described[key.removesuffix("_path")] = str(value)
        if self.dlp is not None:
            described["dlp"] = self.dlp.describe()
        if any(not case.public for check in self.spec.checks for case in check.cases):
            from .secret import source
            described["hidden_case_seeds"] = f"salted with {source() or 'no secret'}"
        return described

    def protected_paths(self) -> list[Path]:
        """Paths holding expected values the child must never read."""
        return [self.kit_dir] if self.kit_dir else []

    def readable_paths(self) -> list[Path]:
        """Files the sandboxed child may open (the course hands them to the student's code)."""
        return [path for path in (self.weights_path, self.image_path, self.content_image_path,
                                  self.style_image_path) if path] + (self.dlp.readable_paths() if self.dlp else [])


@dataclass
class RunContext:
    lab: LabContext
    memo: dict = field(default_factory=dict)
    timing_gate: object = None          # RunOptions.timing_gate: serialises speedup timing across a batch's workers


def build_context(spec: LabSpec, weights: str | Path | None = None, image: str | Path | None = None) -> LabContext:
    """Resolve the lab's resources: explicit paths, then environment, then the synthetic defaults."""
    context = LabContext(spec)
    needs = spec.resources
    if needs.get("vgg19_weights"):
        context.weights_path, context.weights_source = _weights(weights)
    elif weights is not None:
        raise HarnessError(f"lab {spec.lab} does not use VGG19 weights (--weights given)")
    if needs.get("image"):
        context.image_path = _readable_image(image) if image else _shipped("sample")
    elif image is not None:
        raise HarnessError(f"lab {spec.lab} does not classify an image (--image given)")
    if needs.get("style_images"):
        context.content_image_path = _shipped("content")
        context.style_image_path = _shipped("style")
    if needs.get("dlp"):
        from .dlp.resources import DlpResources
        context.dlp = DlpResources.prepare()
    return context


def kit_context(spec: LabSpec, kit_dir: Path, store, weights: str | Path | None = None) -> LabContext:
    """A context for checking against a kit: no reference, the kit's stored inputs and expected values."""
    context = LabContext(spec, kit_store=store, kit_dir=kit_dir.resolve())
    if weights is not None:
        context.weights_path, context.weights_source = _existing(weights, "--weights"), "given"
    context.image_path = spec_kit_image(spec, kit_dir)
    return context


def spec_kit_image(spec: LabSpec, kit_dir: Path) -> Path | None:
    name = spec.kit.get("image") if spec.kit else None
    return (kit_dir / name).resolve() if name else None


def _weights(weights) -> tuple[Path, str]:
    """The weights file and where it came from ("given", "environment" or "synthetic")."""
    import os

    from reference.vgg19 import weights as vgg_weights
    source = "given" if weights is not None else "environment" if os.environ.get(vgg_weights.WEIGHTS_ENV) else "synthetic"
    from reference.vgg19 import matconvnet
    try:
        path = vgg_weights.resolve_weights(weights).resolve()
        if source != "synthetic":       # a user's file is checked now, not when a VGG check first needs it
            matconvnet.check_header(path)
    except FileNotFoundError as error:
        raise HarnessError(str(error)) from None
    except matconvnet.WeightsFileError as error:
        raise HarnessError(f"{error} [VGG19 weights, {source}]") from None
    return path, source


def _existing(path, what: str) -> Path:
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise HarnessError(f"{path}: no such file ({what})")
    return resolved


def _readable_image(image) -> Path:
    """A user's --image, decoded once now so that a damaged file stops the run before any check."""
    from reference.vgg19 import preprocess
    path = _existing(image, "--image")
    try:
        preprocess.load_rgb(path)
    except preprocess.ImageReadError as error:
        raise HarnessError(str(error)) from None
    return path


def _shipped(name: str) -> Path:
    from reference.vgg19 import preprocess
    return preprocess.shipped_image(name)
