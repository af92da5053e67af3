"""Speed of the reference against PyTorch CPU and against the machine's GEMM rate, in one process.

    python benchmarks/bench_reference.py [--json [FILE]] [--repeats 9] [--native-kernel] [--no-torch]

Cases (random inputs and weights of the right shapes):

* VGG19 forward, one 224x224 image, float32 and float64 (reference.vgg19.model
  against torch.nn.functional conv2d / relu / max_pool2d / linear / softmax
  under torch.no_grad()), and the GEMM limit: VGG19's exact conv + fc FLOP
  count (a multiply-add counts 2) over the machine's GEMM rate, the best of
  numpy's and scipy's 2048x2048 GEMM measured before and after the cases.
* conv forward and backward (dx, dweight, dbias) on the lab's speed-test shape,
  input 1x256x24x40, 256 filters 3x3, pad 1, stride 1, in float64 (the lab's
  np.random.rand) and float32; PyTorch's backward is
  torch.nn.grad.conv2d_input + conv2d_weight + a sum.
* max pool 2x2 / stride 2 forward and backward on 1x64x224x224. PyTorch's
  backward gets the argmax indices from its forward (autograd keeps them);
  the reference's stateless backward recomputes them, inside the timing.

Reference and PyTorch runs alternate in blocks, with a pause at each switch
so the idle library's worker threads (OpenBLAS spins ~0.1 s after a call)
stop competing; each figure is the median of the repeats with min and max.

Goals: VGG19 forward <= 0.8x PyTorch and <= 1.4x the GEMM limit; conv
forward and backward on the lab shape (float64) <= 1.0x PyTorch.

--native-kernel re-executes this script without OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE (OpenBLAS reads them once, when numpy loads it), so OpenBLAS
picks the kernel for this CPU; the report says which kernel ran either way.
The flag changes this process only, never the environment of the tests.
"""
from __future__ import annotations

import os
import sys

NATIVE_KERNEL_FLAG = "--native-kernel"
KERNEL_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
REMOVED_MARKER = "BENCH_REFERENCE_REMOVED_KERNEL_VARIABLES"


def _reexec_for_native_kernel() -> None:
    """Run this script again without the kernel variables, before numpy is imported."""
    present = [name for name in KERNEL_VARIABLES if name in os.environ]
    if NATIVE_KERNEL_FLAG in sys.argv[1:] and present:
        environment = {key: value for key, value in os.environ.items() if key not in KERNEL_VARIABLES}
        environment[REMOVED_MARKER] = " ".join(f"{name}={os.environ[name]}" for name in present)
        os.execve(sys.executable, [sys.executable, *sys.argv], environment)


if __name__ == "__main__":
    _reexec_for_native_kernel()

import argparse  # noqa: E402  (after the re-exec, which must precede numpy)
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
from scipy.linalg import blas  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

from reference.layers import conv, pool  # noqa: E402
from reference.vgg19.model import VGG19  # noqa: E402
from reference.vgg19.params import FC_SHAPES, LAYER_NAMES, VGG19Params, conv_shapes  # noqa: E402

LAB_INPUT, LAB_FILTERS = (1, 256, 24, 40), (256, 256, 3, 3)
POOL_INPUT = (1, 64, 224, 224)
IMAGE_SIZE = 224
GEMM_SIZE = 2048
SWITCH_PAUSE = 0.15        # seconds: longer than OpenBLAS's ~0.1 s of spinning after a call
VGG19_FORWARD_GOAL = {"torch_ratio": 0.8, "limit_ratio": 1.4}
LAB_CONV_GOAL = {"torch_ratio": 1.0}


@dataclass
class Case:
    name: str
    dtype: str
    reference: Callable[[], object]
    torch: Callable[[], object] | None = None
    flops: float | None = None                 # for the GEMM limit
    goal: dict = field(default_factory=dict)


def vgg19_flops(size: int = IMAGE_SIZE) -> float:
    """Multiply-adds (x2) of VGG19's 16 convolutions and 3 fully connected layers on one size x size image."""
    flops, side = 0.0, size
    for name, (kernel_h, kernel_w, channels_in, channels_out) in conv_shapes().items():
        flops += 2.0 * side * side * kernel_h * kernel_w * channels_in * channels_out
        if name.endswith(("1_2", "2_2", "3_4", "4_4")):
            side //= 2
    return flops + sum(2.0 * inputs * outputs for inputs, outputs in FC_SHAPES.values())


def random_vgg19_params(rng) -> VGG19Params:
    """He-scaled float32 weights of the real shapes, as in the MatConvNet file."""
    def layer(shape, fan_in, outputs):
        weight = rng.standard_normal(shape, dtype=np.float32)
        weight *= np.float32(np.sqrt(2 / fan_in))
        return weight, (0.1 * rng.standard_normal(outputs)).astype(np.float32)

    return VGG19Params(conv={name: layer(shape, 9 * shape[2], shape[3]) for name, shape in conv_shapes().items()},
                       fc={name: layer(shape, shape[0], shape[1]) for name, shape in FC_SHAPES.items()},
                       mean_rgb=np.zeros(3))


def gemm_rates(repeats: int = 5) -> dict:
    """Best GFLOP/s of a square GEMM through numpy's and scipy's BLAS, float32 and float64."""
    rates = {}
    for dtype, scipy_gemm in ((np.float32, blas.sgemm), (np.float64, blas.dgemm)):
        matrix = np.random.default_rng(0).standard_normal((GEMM_SIZE, GEMM_SIZE)).astype(dtype)
        product = np.empty_like(matrix)
        flops = 2.0 * GEMM_SIZE ** 3
        # scipy's wrapper wants column-major arrays: the transposed views, so it copies nothing
        multiplies = {"numpy": lambda: np.matmul(matrix, matrix, out=product),
                      "scipy": lambda: scipy_gemm(1.0, matrix.T, matrix.T, c=product.T, overwrite_c=1)}
        for library, multiply in multiplies.items():
            multiply()
            best = min(_timed(multiply) for _ in range(repeats))
            rates[f"{library}_{np.dtype(dtype).name}_gflops"] = flops / best / 1e9
            time.sleep(SWITCH_PAUSE)
    return rates


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def measure(case: Case, repeats: int, block: int = 3) -> dict:
    """Median, min and max seconds of the reference and of PyTorch, alternating in blocks of ``block`` runs."""
    runners = {"reference": case.reference}
    if case.torch is not None:
        runners["torch"] = case.torch
    times = {side: [] for side in runners}
    for function in runners.values():      # warm-up: buffers, caches, thread pools
        function()
        function()
        time.sleep(SWITCH_PAUSE)
    while len(times["reference"]) < repeats:
        for side, function in runners.items():
            for _ in range(min(block, repeats - len(times[side]))):
                times[side].append(_timed(function))
            time.sleep(SWITCH_PAUSE)
    return {side: {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}
            for side, values in times.items()}


def iter_cases(torch):
    """The cases one at a time, so each case's models and arrays are freed once it is measured."""
    rng = np.random.default_rng(0)
    params = random_vgg19_params(rng)
    image = rng.standard_normal((1, 3, IMAGE_SIZE, IMAGE_SIZE)) * 50
    for dtype in (np.float32, np.float64):
        model, typed_image = VGG19(params, dtype=dtype), image.astype(dtype)
        torch_forward = _torch_vgg19(torch, model, typed_image) if torch else None
        yield Case("VGG19 forward 224x224", np.dtype(dtype).name, lambda m=model, i=typed_image: m.classify(i),
                   torch_forward, vgg19_flops(), VGG19_FORWARD_GOAL)
        del model, torch_forward
    for dtype in (np.float64, np.float32):
        x, weight = rng.random(LAB_INPUT).astype(dtype), rng.random(LAB_FILTERS).astype(dtype)
        bias, dout = rng.random(LAB_FILTERS[0]).astype(dtype), rng.random(LAB_INPUT).astype(dtype)
        goal = LAB_CONV_GOAL if dtype == np.float64 else {}
        forward = (lambda x=x, w=weight, b=bias: conv.conv2d_forward(x, w, b, 1, 1))
        backward = (lambda d=dout, x=x, w=weight: conv.conv2d_backward(d, x, w, 1, 1))
        torch_forward = torch_backward = None
        if torch:
            tx, tw, tb, td = (torch.from_numpy(array) for array in (x, weight, bias, dout))
            functional, grad = torch.nn.functional, torch.nn.grad
            torch_forward = (lambda: functional.conv2d(tx, tw, tb, padding=1))
            torch_backward = (lambda: (grad.conv2d_input(tx.shape, tw, td, padding=1),
                                       grad.conv2d_weight(tx, tw.shape, td, padding=1), td.sum((0, 2, 3))))
        name = "conv 1x256x24x40 3x3/256"
        yield Case(f"{name} forward", np.dtype(dtype).name, forward, torch_forward, goal=goal)
        yield Case(f"{name} backward", np.dtype(dtype).name, backward, torch_backward, goal=goal)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal(POOL_INPUT).astype(dtype)
        dout = rng.standard_normal(POOL_INPUT[:2] + (POOL_INPUT[2] // 2, POOL_INPUT[3] // 2)).astype(dtype)
        torch_forward = torch_backward = None
        if torch:
            tx, td = torch.from_numpy(x), torch.from_numpy(dout)
            _, indices = torch.ops.aten.max_pool2d_with_indices(tx, [2, 2], [2, 2])
            torch_forward = (lambda: torch.nn.functional.max_pool2d(tx, 2))
            torch_backward = (lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                td, tx, [2, 2], [2, 2], [0, 0], [1, 1], False, indices))
        yield Case("max pool 2x2 1x64x224x224 forward", np.dtype(dtype).name,
                   lambda x=x: pool.maxpool2d_forward(x, 2), torch_forward)
        yield Case("max pool 2x2 1x64x224x224 backward", np.dtype(dtype).name,
                   lambda d=dout, x=x: pool.maxpool2d_backward(d, x, 2), torch_backward)


def _torch_vgg19(torch, model: VGG19, image: np.ndarray):
    """The course's layer list with torch.nn.functional on the model's own weights, as a no-grad closure.

    Conv weights are copied to OIHW; the fc weights are shared: F.linear takes
    the transposed view of the [in, out] matrix without copying it (~1 GB in float64).
    """
    functional = torch.nn.functional
    convs = {name: (torch.from_numpy(np.ascontiguousarray(weight.transpose(3, 2, 0, 1))), torch.from_numpy(bias))
             for name, (weight, bias) in model.conv.items()}
    fcs = {name: (torch.from_numpy(weight).t(), torch.from_numpy(bias)) for name, (weight, bias) in model.fc.items()}
    tensor = torch.from_numpy(image)

    def forward():
        with torch.no_grad():
            current = tensor
            for name in LAYER_NAMES:
                if name.startswith("conv"):
                    current = functional.conv2d(current, *convs[name], padding=1)
                elif name.startswith("relu"):
                    current = functional.relu(current, inplace=True)
                elif name.startswith("pool"):
                    current = functional.max_pool2d(current, 2)
                elif name == "flatten":
                    current = current.permute(0, 2, 3, 1).reshape(current.shape[0], -1)
                elif name.startswith("fc"):
                    current = functional.linear(current, *fcs[name])
                else:
                    current = functional.softmax(current, dim=1)
            return current

    return forward


def machine(torch, torch_absent: str) -> dict:
    kernel_source = (f"removed by {NATIVE_KERNEL_FLAG}: {os.environ[REMOVED_MARKER]}" if REMOVED_MARKER in os.environ
                     else ", ".join(f"{name}={os.environ[name]}" for name in KERNEL_VARIABLES if name in os.environ)
                     or "OpenBLAS's own choice (no OPENBLAS_CORETYPE)")
    return {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
        "blas": [{key: info.get(key) for key in ("filepath", "internal_api", "architecture", "num_threads", "version")}
                 for info in threadpool_info()],
        "kernel_variables": kernel_source,
        "torch": torch_absent if torch is None else {"version": torch.__version__, "threads": torch.get_num_threads()},
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def evaluate(case: Case, timing: dict, gemm: dict) -> dict:
    result = {"name": case.name, "dtype": case.dtype, **timing}
    reference = timing["reference"]["median"]
    if "torch" in timing:
        result["torch_ratio"] = reference / timing["torch"]["median"]
    if case.flops:
        rate = max(gemm[f"{library}_{case.dtype}_gflops"] for library in ("numpy", "scipy")) * 1e9
        result["flops"] = case.flops
        result["limit_seconds"] = case.flops / rate
        result["limit_ratio"] = reference / result["limit_seconds"]
    if case.goal:
        met = {key: result[key] <= bound for key, bound in case.goal.items() if key in result}
        result["goal"] = {"bounds": case.goal, "met": met, "all_met": all(met.values()) if met else None}
    return result


def print_table(report: dict) -> None:
    info = report["machine"]
    print(f"CPU {info['cpu']} ({info['cores']} cores); kernel variables: {info['kernel_variables']}")
    for blas_info in info["blas"]:
        print(f"  {blas_info['internal_api']} {blas_info['version']} kernel {blas_info['architecture']}, "
              f"{blas_info['num_threads']} threads ({Path(blas_info['filepath']).name})")
    torch_info = info["torch"]
    print(f"  torch {torch_info['version']}, {torch_info['threads']} threads" if isinstance(torch_info, dict)
          else f"  torch: {torch_info}")
    gemm = report["gemm"]
    print(f"GEMM {GEMM_SIZE}^2: sgemm numpy {gemm['numpy_float32_gflops']:.0f} / scipy "
          f"{gemm['scipy_float32_gflops']:.0f} GFLOP/s, dgemm numpy {gemm['numpy_float64_gflops']:.0f} / scipy "
          f"{gemm['scipy_float64_gflops']:.0f} GFLOP/s; "
          f"VGG19 {report['vgg19_gflop']:.2f} GFLOP")
    header = f"{'case':<38} {'dtype':<8} {'reference ms (min-max)':>24} {'torch ms (min-max)':>22} {'ref/torch':>9} " \
             f"{'limit ms':>8} {'ref/limit':>9}  goal"
    print(header)
    print("-" * len(header))
    for row in report["cases"]:
        reference, torch_row = row["reference"], row.get("torch")
        torch_text = f"{1e3 * torch_row['median']:7.2f} ({1e3 * torch_row['min']:.1f}-{1e3 * torch_row['max']:.1f})" \
            if torch_row else "-"
        goal = row.get("goal")
        goal_text = "" if not goal else ("met" if goal["all_met"] else "MISSED") + " " + ", ".join(
            f"{key}<={bound}" for key, bound in goal["bounds"].items())
        print(f"{row['name']:<38} {row['dtype']:<8} "
              f"{1e3 * reference['median']:9.2f} ({1e3 * reference['min']:.1f}-{1e3 * reference['max']:.1f})".ljust(72)
              + f"{torch_text:>22} {_number(row.get('torch_ratio')):>9} "
              f"{_number(row.get('limit_seconds'), 1e3):>8} {_number(row.get('limit_ratio')):>9}  {goal_text}")


def _number(value, scale=1.0) -> str:
    return "-" if value is None else f"{value * scale:.2f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write every figure as JSON to FILE (stdout without FILE)")
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per side and case (default 9)")
    parser.add_argument(NATIVE_KERNEL_FLAG, action="store_true",
                        help="run without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (re-executes this script)")
    parser.add_argument("--no-torch", action="store_true", help="measure the reference alone")
    args = parser.parse_args(argv)

    torch, torch_absent = None, "not measured (--no-torch)"
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch_absent = "not installed"
    gemm = gemm_rates()
    report = {"machine": machine(torch, torch_absent), "gemm": gemm, "vgg19_gflop": vgg19_flops() / 1e9,
              "repeats": args.repeats}
    timings = []
    for case in iter_cases(torch):
        timings.append((case, measure(case, args.repeats)))
        print(f"measured {case.name} {case.dtype}", file=sys.stderr, flush=True)
        case.reference = case.torch = None      # free the models (~2 GB in float64) before the next case
    # the GEMM rate is the machine's peak: the better of a measurement before and one after the cases
    report["gemm"] = {key: max(value, gemm[key]) for key, value in gemm_rates().items()}
    report["cases"] = [evaluate(case, timing, report["gemm"]) for case, timing in timings]
    print_table(report)
    if args.json == "-":
        print(json.dumps(report, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
