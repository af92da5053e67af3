"""The student kit: what a course hands out for self-checking before upload.

    harness kit --lab aics-exp3-3 --out kit/      (instructor)
    harness check my_dir --kit kit/               (student, offline, no reference code)

A kit holds the lab spec reduced to its public cases, the inputs and
expected values of those cases (expected.npz, plain arrays), and the checks
that need no reference at all (finite-difference gradient checks; speedup
ratios against an absolute threshold). Hidden cases never enter it, so
nothing a student runs from a kit can reveal them. VGG19 checks are included
only when the kit is built with the weights file the students have
(--weights), and a student's check then verifies it is the same file.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from . import __version__, yamlpos
from .adapters import registry
from .context import RunContext, build_context
from .errors import HarnessError
from .spec import LabSpec, load_spec

REFERENCE_FREE_KINDS = {"aics.gradcheck"}
NEEDS_WEIGHTS = {"aics.vgg19.classify", "aics.style_transfer.run"}
SPEC_NAME, STORE_NAME, MANIFEST_NAME = "spec.yaml", "expected.npz", "manifest.json"


@dataclass
class KitStore:
    """Inputs and expected values of a kit's cases, keyed check/case/{in,out}/name."""

    arrays: dict

    @classmethod
    def load(cls, path: Path) -> "KitStore":
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls({key: data[key] for key in data.files})
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise HarnessError(f"{path}: not a readable kit store ({error})") from None

    def inputs(self, check_id: str, case_name: str) -> dict:
        return self._section(check_id, case_name, "in")

    def expected(self, check_id: str, case_name: str) -> dict:
        return self._section(check_id, case_name, "out")

    def _section(self, check_id, case_name, part) -> dict:
        prefix = f"{check_id}/{case_name}/{part}/"
        return {key[len(prefix):]: value for key, value in self.arrays.items() if key.startswith(prefix)}


def make_kit(lab: str, out: Path, weights: Path | None = None, image: Path | None = None) -> dict:
    """Write the kit for ``lab`` into ``out``; return the manifest."""
    spec = load_spec(lab)
    data, _ = yamlpos.load(spec.path.read_text(encoding="utf-8"))
    context = build_context(spec, weights=weights, image=image)
    run_context = RunContext(context)
    kept_checks, omitted, store = [], {}, {}
    for raw_check, check in zip(data["checks"], spec.checks):
        reason = _omission(check, weights)
        public = [case for case in check.cases if case.public]
        if reason is None and not check.is_property and not public:
            reason = "no public cases"
        if reason:
            omitted[check.id] = reason
            continue
        kind = registry.get(check.kind)
        if check.is_property:
            kept_checks.append(raw_check)
            continue
        raw_check = dict(raw_check, cases=[raw for raw in raw_check["cases"] if raw.get("public")])
        if check.kind == "aics.speedup":
            raw_check["options"] = dict(raw_check.get("options", {}), calibrate=False, min_fraction_of_reference=0)
        for case in public:
            arrays = kind.make_inputs(check, case, run_context)
            for name, value in arrays.items():
                store[f"{check.id}/{case.name}/in/{name}"] = np.asarray(value)
            if check.kind != "aics.speedup":
                for name, value in kind.expected(check, case, arrays, run_context).items():
                    store[f"{check.id}/{case.name}/out/{name}"] = np.asarray(value)
        kept_checks.append(raw_check)
    kept_ids = {raw["id"] for raw in kept_checks}
    for raw in kept_checks:
        if "depends" in raw:
            raw["depends"] = [dependency for dependency in raw["depends"] if dependency in kept_ids]
    data["checks"] = kept_checks
    data.pop("rubric", None)            # the level is the instructor's to give
    manifest = {
        "lab": spec.lab, "source_spec_sha256": spec.source_sha256, "harness_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "omitted": omitted,
        "weights": _fingerprint(context.weights_path) if weights else None,
        "image": str(context.image_path) if context.image_path else None,
    }
    data["kit"] = {"manifest": MANIFEST_NAME, "store": STORE_NAME}
    out.mkdir(parents=True, exist_ok=True)
    if context.image_path and any(raw["kind"] in NEEDS_WEIGHTS for raw in kept_checks):
        image_name = "image" + context.image_path.suffix       # the student's load_image reads this file
        shutil.copyfile(context.image_path, out / image_name)
        data["kit"]["image"] = image_name
    (out / SPEC_NAME).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    np.savez_compressed(out / STORE_NAME, **store)
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "README.txt").write_text(_readme(spec, manifest))
    return manifest


def load_kit(directory: Path) -> tuple[LabSpec, KitStore, dict]:
    spec_file = directory / SPEC_NAME
    if not spec_file.is_file():
        raise HarnessError(f"{directory}: not a kit (no {SPEC_NAME})")
    spec = load_spec(spec_file)        # a damaged (e.g. not UTF-8) spec is a SpecError naming file and line
    try:
        manifest = json.loads((directory / MANIFEST_NAME).read_text())
    except (OSError, ValueError) as error:          # missing, unreadable or not JSON
        raise HarnessError(f"{directory / MANIFEST_NAME}: not a readable kit manifest ({error})") from None
    if not isinstance(manifest, dict):
        raise HarnessError(f"{directory / MANIFEST_NAME}: not a kit manifest (a JSON object)")
    weights = manifest.get("weights")
    if weights is not None and not (isinstance(weights, dict) and isinstance(weights.get("sha256"), str)):
        raise HarnessError(f"{directory / MANIFEST_NAME}: 'weights' must be an object with the file's sha256")
    return spec, KitStore.load(directory / STORE_NAME), manifest


def verify_weights(manifest: dict, weights: Path | None) -> str | None:
    """None when the student's weights are the kit's; else why the VGG19 checks cannot run."""
    expected = manifest.get("weights")
    if not expected:
        return None
    if weights is None:
        return "this kit's VGG19 checks need the course's weights file: pass --weights"
    if _fingerprint(weights)["sha256"] != expected["sha256"]:
        return f"{weights} is not the weights file this kit was made with ({expected['name']})"
    return None


def _omission(check, weights) -> str | None:
    if check.is_property and check.kind not in REFERENCE_FREE_KINDS:
        return "a property check judged by the reference"
    if check.kind in NEEDS_WEIGHTS and weights is None:
        return "needs the course's VGG19 weights: build the kit with --weights to include it"
    return None


def _fingerprint(path: Path) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return {"name": Path(path).name, "bytes": Path(path).stat().st_size, "sha256": digest.hexdigest()}


def _readme(spec: LabSpec, manifest: dict) -> str:
    omitted = "".join(f"  - {check_id}: {reason}\n" for check_id, reason in manifest["omitted"].items())
    return (f"Self-check kit for {spec.lab}: {spec.title}\n\n"
            f"Run, from the directory that holds your stu_upload/:\n\n    harness check . --kit {Path('.').name}\n\n"
            "The kit holds the public cases of the lab's checks with their expected values, and checks that\n"
            "need no expected values (finite-difference gradients, speedup ratios). Passing it does not\n"
            "guarantee full marks: grading also uses hidden cases.\n"
            + (f"\nNot in this kit:\n{omitted}" if omitted else ""))
