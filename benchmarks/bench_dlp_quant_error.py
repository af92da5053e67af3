"""How far the DLP's results fall from the float reference: the figures behind the DLP specs' tolerances.

For VGG19 (exp 3-2), per synthetic-weights seed: quantization parameters
calibrated as the harness calibrates them (harness.dlp.quant.calibrate_vgg19
on the three shipped images, float64 reference), then for the shipped sample
image and mild variants of it (noise of 2 and 4 grey levels, a 1-2 px shift,
a 2% zoom, +-3% brightness; with --strong also flips, crops and big changes
of light) the emulated pycnml network (harness.dlp.network, the course's
correct solution) against the float64 reference: softmax error relative to
the top probability (the specs' atol), whether the top-1 class and the top 5
agree, pool5's error relative to its largest value; the float32 pycnnl
emulation likewise. --amplification measures instead how much the float
network amplifies a small perturbation of its input (relative change of fc8
over relative change of the image), which is why int8 arithmetic moves the
synthetic VGG19's output so far. For the MLP (exp 2-2): seeds x hidden sizes
x batches of digit images.

    python benchmarks/bench_dlp_quant_error.py                        # table on stdout
    python benchmarks/bench_dlp_quant_error.py --json results.json    # and every figure as JSON
    python benchmarks/bench_dlp_quant_error.py --no-mlp --seeds 0 1 2 3 4
    python benchmarks/bench_dlp_quant_error.py --no-mlp --amplification --seeds 0 1 2 3 4

The networks run single-threaded (as in the sandbox); a full run takes minutes.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.dlp import mlp, network, pycnml, pycnnl, quant  # noqa: E402


def _quiet(function, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args, **kwargs)


MILD = ("noise2", "noise4", "shift", "zoom", "bright", "dark")
STRONG = ("flip", "crop", "bright+", "contrast", "noise12")


def _variants(rgb: np.ndarray, kinds, rng) -> list[tuple[str, np.ndarray]]:
    """Images the calibration never saw, uint8 HWC: ``kinds`` of changes to one RGB image.

    Mild ones keep what the network sees nearly the same (a grader's image re-encoded, a
    pixel of shift); strong ones (a flip, a crop, big changes of light) make a new input.
    """
    from PIL import Image
    height, width = rgb.shape[:2]
    out = []
    for kind in kinds:
        image = rgb.astype(np.float64)
        if kind.startswith("noise"):
            image = image + rng.normal(0, float(kind[5:]), image.shape)
        elif kind == "shift":
            image = np.roll(image, tuple(rng.integers(1, 3, size=2)), axis=(0, 1))
        elif kind in ("zoom", "crop"):
            margin = (0.02 if kind == "zoom" else rng.uniform(0.1, 0.3))
            h, w = int(height * (1 - margin)), int(width * (1 - margin))
            top, left = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
            cropped = np.clip(image[top:top + h, left:left + w], 0, 255).astype(np.uint8)
            image = np.asarray(Image.fromarray(cropped).resize((width, height)), dtype=np.float64)
        elif kind == "bright":
            image = image * 1.03
        elif kind == "dark":
            image = image * 0.97
        elif kind == "bright+":
            image = image * rng.uniform(1.2, 1.4)
        elif kind == "contrast":
            image = (image - image.mean()) * rng.uniform(1.2, 1.6) + image.mean()
        elif kind == "flip":
            image = image[:, ::-1]
        out.append((kind, np.ascontiguousarray(np.clip(np.rint(image), 0, 255).astype(np.uint8))))
    return out


def _softmax_figures(reference: np.ndarray, actual: np.ndarray) -> dict:
    top = float(reference.max())
    abs_error = np.abs(actual - reference)
    ref_order, act_order = np.argsort(-reference), np.argsort(-actual)
    return {"atol": float(abs_error.max() / top), "max_abs_error": float(abs_error.max()),
            "top1_equal": bool(ref_order[0] == act_order[0]), "top1_reference_p": top,
            "top1_margin": float(reference[ref_order[0]] - reference[ref_order[1]]),
            "changed_top1_margin": float(top - reference[act_order[0]]),
            "top5_overlap": len(set(ref_order[:5]) & set(act_order[:5]))}


def vgg19(seeds, images: tuple, strong: bool, threads: int) -> list[dict]:
    import threadpoolctl
    from reference.vgg19 import preprocess, synthetic
    from reference.vgg19.model import VGG19
    rows = []
    for seed in seeds:
        started = time.perf_counter()
        params = synthetic.synthetic_params(seed)
        reference = VGG19(params)
        calibration = [preprocess.load_network_image(preprocess.shipped_image(name), params.mean_rgb)
                       for name in ("sample", "content", "style")]
        table = quant.calibrate_vgg19(params, calibration, reference)
        cnml_full = _quiet(network.vgg19_network, "pycnml", pycnml, params, table)
        cnml_pool5 = _quiet(network.vgg19_network, "pycnml", pycnml, params, table, until="pool5")
        cnnl_full = _quiet(network.vgg19_network, "pycnnl", pycnnl, params)
        rng = np.random.default_rng(seed + 100)
        inputs = []
        for name in images:
            rgb = preprocess.load_rgb(preprocess.shipped_image(name))
            inputs.append((name, rgb))
            inputs += [(f"{name}-{kind}", variant) for kind, variant in
                       _variants(rgb, MILD + (STRONG if strong else ()), rng)]
        print(f"seed {seed}: weights, calibration and networks in {time.perf_counter() - started:.0f} s; "
              f"{len(inputs)} inputs", file=sys.stderr)
        for name, rgb in inputs:
            image = preprocess.to_network_input(preprocess.resize_bilinear(rgb, (224, 224)), params.mean_rgb)
            expected = reference.forward(image.astype(np.float64), capture=("pool5", "softmax"))
            row = {"seed": seed, "input": name, "mild": name.split("-")[-1] in MILD or "-" not in name}
            with threadpoolctl.threadpool_limits(threads):
                for api, net in (("pycnml", cnml_full), ("pycnnl", cnnl_full)):
                    net.setInputData(network.image_data(api, image))
                    begun = time.perf_counter()
                    net.forward()
                    row[f"{api}_forward_seconds"] = time.perf_counter() - begun
                    row[api] = _softmax_figures(expected["softmax"][0], np.asarray(net.getOutputData()))
                cnml_pool5.setInputData(network.image_data("pycnml", image))
                cnml_pool5.forward()
            pool5 = network.output_array("pycnml", cnml_pool5.getOutputData(), expected["pool5"].shape)
            scale = float(np.abs(expected["pool5"]).max())
            row["pool5"] = {"atol": float(np.abs(pool5 - expected["pool5"]).max() / scale),
                            "relative_l2": float(np.linalg.norm(pool5 - expected["pool5"])
                                                 / np.linalg.norm(expected["pool5"]))}
            rows.append(row)
            print(f"  {name:18s} pycnml atol {row['pycnml']['atol']:.4f} top1 {row['pycnml']['top1_equal']!s:5} "
                  f"top5 {row['pycnml']['top5_overlap']}  pool5 atol {row['pool5']['atol']:.4f}  "
                  f"pycnnl atol {row['pycnnl']['atol']:.2e}  ({row['pycnml_forward_seconds']:.1f} s)", file=sys.stderr)
    return rows


def amplification(seeds, noise: float = 0.1) -> list[dict]:
    """Per seed: relative change of pool5 and fc8 over the relative change of the sample image (float64)."""
    from reference.vgg19 import preprocess, synthetic
    from reference.vgg19.model import VGG19
    rows = []
    for seed in seeds:
        params = synthetic.synthetic_params(seed)
        model = VGG19(params)
        image = preprocess.load_network_image(preprocess.shipped_image("sample"), params.mean_rgb).astype(np.float64)
        base = model.forward(image, capture=("pool5", "fc8"))
        moved = model.forward(image + np.random.default_rng(seed).normal(0, noise, image.shape), capture=("pool5", "fc8"))
        change = noise / float(image.std())
        row = {"seed": seed, "input_relative_change": change}
        for name in ("pool5", "fc8"):
            row[name] = float(np.linalg.norm(moved[name] - base[name]) / np.linalg.norm(base[name]) / change)
        print(f"seed {seed}: pool5 x{row['pool5']:.1f}, fc8 x{row['fc8']:.1f}", file=sys.stderr)
        rows.append(row)
    return rows


def mlp_rows(seeds, sizes, batches: int, batch: int) -> list[dict]:
    rows = []
    for seed in seeds:
        for hidden1, hidden2 in sizes:
            weights = mlp.synthetic_weights(hidden1, hidden2, seed)
            table = quant.calibrate_mlp(weights, mlp.digit_images(1024, seed=seed + 7))
            cnml = _quiet(network.mlp_network, "pycnml", pycnml, weights, batch, table)
            cnnl = _quiet(network.mlp_network, "pycnnl", pycnnl, weights, batch)
            for index in range(batches):
                images = mlp.digit_images(batch, seed=1000 * seed + index + 1)
                expected = mlp.forward_float(weights, images)
                row = {"seed": seed, "hidden": [hidden1, hidden2], "batch": index}
                for api, net in (("pycnml", cnml), ("pycnnl", cnnl)):
                    net.setInputData(images.ravel().tolist())
                    net.forward()
                    actual = np.asarray(net.getOutputData()).reshape(expected.shape)
                    error = np.abs(actual - expected)
                    row[api] = {"atol": float(error.max() / expected.max()),
                                "labels_equal": float(np.mean(actual.argmax(1) == expected.argmax(1))),
                                "worst_row_margin_of_a_changed_label": _changed_margin(expected, actual)}
                rows.append(row)
    return rows


def _changed_margin(expected, actual) -> float:
    """The largest reference margin (top-1 minus the predicted class's probability) among changed labels."""
    rows = np.flatnonzero(expected.argmax(1) != actual.argmax(1))
    if not rows.size:
        return 0.0
    return float(max(expected[r].max() - expected[r, actual[r].argmax()] for r in rows))


def summary(vgg: list[dict], mlps: list[dict]) -> dict:
    out = {}
    for mild in (True, False):
        rows = [row for row in vgg if row["mild"] == mild]
        if not rows:
            continue
        group = "vgg19" if mild else "vgg19_strong_variants"
        for api in ("pycnml", "pycnnl"):
            figures = [row[api] for row in rows]
            out[f"{group}_{api}"] = {"inputs": len(figures), "atol_max": max(f["atol"] for f in figures),
                                     "atol_median": float(np.median([f["atol"] for f in figures])),
                                     "top1_agreement": float(np.mean([f["top1_equal"] for f in figures])),
                                     "changed_top1_margin_max": max(f["changed_top1_margin"] for f in figures),
                                     "top1_margin_min": min(f["top1_margin"] for f in figures),
                                     "top5_overlap_min": min(f["top5_overlap"] for f in figures),
                                     "forward_seconds_median": float(np.median([r[f"{api}_forward_seconds"]
                                                                                for r in rows]))}
        out[f"{group}_pycnml_pool5"] = {"atol_max": max(r["pool5"]["atol"] for r in rows),
                                        "relative_l2_max": max(r["pool5"]["relative_l2"] for r in rows)}
    if mlps:
        for api in ("pycnml", "pycnnl"):
            out[f"mlp_{api}"] = {"batches": len(mlps), "atol_max": max(r[api]["atol"] for r in mlps),
                                 "labels_equal_min": min(r[api]["labels_equal"] for r in mlps),
                                 "changed_label_margin_max": max(r[api]["worst_row_margin_of_a_changed_label"]
                                                                 for r in mlps)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--images", nargs="+", default=["sample"], choices=("sample", "content", "style"),
                        help="shipped images whose variants VGG19 classifies (default: sample, the graded one)")
    parser.add_argument("--strong", action="store_true",
                        help="also strong variants (flips, crops, light changes): inputs unlike the graded one")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--amplification", action="store_true",
                        help="measure the float VGG19's amplification of input noise instead of the DLP's error")
    parser.add_argument("--no-vgg", action="store_true")
    parser.add_argument("--no-mlp", action="store_true")
    parser.add_argument("--mlp-batches", type=int, default=5)
    parser.add_argument("--mlp-batch", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.amplification:
        rows = amplification(args.seeds)
        print(json.dumps({"amplification": rows}, indent=2))
        if args.json:
            args.json.write_text(json.dumps({"amplification": rows}, indent=1) + "\n")
        return 0
    vgg = [] if args.no_vgg else vgg19(args.seeds, tuple(args.images), args.strong, args.threads)
    mlps = [] if args.no_mlp else mlp_rows(args.seeds, [(1024, 256), (128, 64)], args.mlp_batches,
                                            args.mlp_batch)
    result = {"summary": summary(vgg, mlps), "vgg19": vgg, "mlp": mlps, "seeds": args.seeds,
              "seconds": time.perf_counter() - started}
    print(json.dumps(result["summary"], indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
