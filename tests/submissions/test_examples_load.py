"""The example submissions in submissions/ (a light check; the grading verdicts are tested with the harness).

Each stu_upload/ imports both ways the course uses it (``stu_upload.<module>`` from the experiment
directory, as the course drivers do, and ``<module>`` from inside stu_upload/), with the course's class
and method names, without running anything at import and without touching reference/ or harness/;
expected.yaml describes exactly the submissions on disk; each mistake differs from the submission it
copies in one file; and the submissions named correct* agree with the reference on random small cases:
any batch, kernel, stride and padding, pooling windows that overlap or leave a remainder.
"""
from __future__ import annotations

import filecmp
import functools
import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import optim, style
from reference.layers import activations, conv, dense, flatten, losses, pool
from reference.mistakes import MISTAKES

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "submissions"
MANIFEST = yaml.safe_load((SUBMISSIONS / "expected.yaml").read_text())
ON_DISK = sorted(f"{path.parent.parent.name}/{path.parent.name}" for path in SUBMISSIONS.glob("*/*/stu_upload"))
# every lab's submissions, whatever its package is called (cs231n/, framework/ ...)
EVERY_SUBMISSION = sorted(f"{lab.name}/{path.name}" for lab in SUBMISSIONS.iterdir() if lab.is_dir()
                          for path in lab.iterdir() if path.is_dir() and not path.name.startswith((".", "_")))
# The DLP labs' demos import pycnml (a board's library, or the grader's emulation) and are Python 2.7 code: a
# plain interpreter imports neither, and they have no layers of their own; test_verdicts.py runs them.
GRADER_RUNTIME_LABS = {"aics-exp2-2", "aics-exp3-2"}
CORRECT = [key for key in ON_DISK if key.split("/")[1].startswith("correct")
           and key.split("/")[0] not in GRADER_RUNTIME_LABS]

# module -> {class or function: methods it must have}, per lab, as the course templates name them
LAYERS_1 = {"FullyConnectedLayer": ("init_param", "forward", "backward", "update_param", "load_param", "save_param"),
            "ReLULayer": ("forward", "backward"),
            "SoftmaxLossLayer": ("forward", "get_loss", "backward")}
INTERFACES = {
    "aics-exp2-1": {
        "layers_1": LAYERS_1,
        "mnist_mlp_cpu": {"MNIST_MLP": ("load_mnist", "load_data", "shuffle_data", "build_model", "init_model",
                                        "load_model", "save_model", "forward", "backward", "update", "train",
                                        "evaluate"),
                          "build_mnist_mlp": ()},
    },
    "aics-exp3-1": {
        "layers_1": LAYERS_1,
        "layers_2": {"ConvolutionalLayer": ("init_param", "forward", "load_param"),
                     "MaxPoolingLayer": ("forward",),
                     "FlattenLayer": ("forward",)},
        "vgg_cpu": {"VGG19": ("build_model", "init_model", "load_model", "load_image", "forward", "evaluate")},
    },
    "aics-exp3-3": {
        "layers_1": LAYERS_1,
        "layers_2": {"ConvolutionalLayer": ("init_param", "forward_raw", "backward_raw", "forward_speedup",
                                            "backward_speedup", "get_gradient", "update_param", "load_param",
                                            "get_forward_time", "get_backward_time"),
                     "MaxPoolingLayer": ("forward_raw", "backward_raw_book", "forward_speedup", "backward_speedup"),
                     "FlattenLayer": ("forward", "backward")},
        "layers_3": {"ContentLossLayer": ("forward", "backward"), "StyleLossLayer": ("forward", "backward")},
        "exp_3_3_style_transfer": {"VGG19": ("build_model", "init_model", "load_model", "load_image", "save_image",
                                             "forward", "backward"),
                                   "AdamOptimizer": ("update",),
                                   "get_random_img": ()},
    },
}

# Runs in a fresh interpreter: imports the modules, reports which of the wanted names and methods exist
# and whether any of our own packages got imported. Its last stdout line is the JSON report.
IMPORT_PROBE = """
import importlib, json, sys
prefix, wanted = sys.argv[1], json.loads(sys.argv[2])
found = {}
for module_name, names in wanted.items():
    module = importlib.import_module(prefix + module_name)
    found[module_name] = {name: sorted(dir(getattr(module, name))) for name in names if hasattr(module, name)}
ours = sorted({name.split(".")[0] for name in sys.modules} & {"reference", "harness"})
print(json.dumps({"found": found, "ours": ours}))
"""


def stu_upload(key: str) -> Path:
    return SUBMISSIONS / key / "stu_upload"


def lab_of(key: str) -> str:
    return key.split("/")[0]


# --- importing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("import_style", ["package", "top-level"])
@pytest.mark.parametrize("key", [key for key in ON_DISK if key.split("/")[0] not in GRADER_RUNTIME_LABS])
def test_imports_with_the_course_interface(key, import_style):
    """package: `from stu_upload.x import ...` run from the experiment directory (the course drivers);
    top-level: `import x` run from inside stu_upload/ (how the submission's own files see each other)."""
    wanted = INTERFACES[lab_of(key)]
    cwd, prefix = (stu_upload(key).parent, "stu_upload.") if import_style == "package" else (stu_upload(key), "")
    request = json.dumps({module: list(names) for module, names in wanted.items()})
    completed = subprocess.run([sys.executable, "-c", IMPORT_PROBE, prefix, request],
                               cwd=cwd, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    *printed, report_line = completed.stdout.strip().splitlines()
    assert printed == [], f"importing printed {printed[:3]}: module-level code ran (training, a demo?)"
    report = json.loads(report_line)
    assert report["ours"] == [], f"a submission must not import {report['ours']}"
    for module, names in wanted.items():
        for name, methods in names.items():
            assert name in report["found"][module], f"{module}.py has no {name}"
            missing = sorted(set(methods) - set(report["found"][module][name]))
            assert not missing, f"{module}.{name} lacks {missing}"


# --- the manifest ---------------------------------------------------------------------------------

def spec_checks_and_levels(lab: str) -> tuple[set[str], set[int]]:
    spec = yaml.safe_load((ROOT / "specs" / f"{lab}.yaml").read_text())
    return {check["id"] for check in spec["checks"]}, {tier["level"] for tier in spec["rubric"]["tiers"]} | {0}


def test_manifest_lists_exactly_the_submissions_on_disk():
    assert sorted(MANIFEST) == EVERY_SUBMISSION


@pytest.mark.parametrize("key", sorted(MANIFEST))
def test_manifest_entry_is_consistent_with_the_spec(key):
    entry = MANIFEST[key]
    check_ids, levels = spec_checks_and_levels(entry["lab"])
    assert entry["lab"] == lab_of(key)
    assert entry["description"].strip()
    assert set(entry["must_fail"]) <= check_ids, set(entry["must_fail"]) - check_ids
    assert set(entry["must_pass"]) <= check_ids, set(entry["must_pass"]) - check_ids
    assert not set(entry["must_fail"]) & set(entry["must_pass"])
    assert entry["level"] is None or entry["level"] in levels
    assert entry["mistake"] is None or entry["mistake"] in {mistake.id for mistake in MISTAKES}
    assert (entry["mistake"] is None) == (entry["must_fail"] == []), "a mistake fails something, a correct one nothing"
    assert f"**{key.split('/')[1]}**" in (SUBMISSIONS / "README.md").read_text(), "README.md describes each one"


@functools.lru_cache(maxsize=None)
def package_name(lab: str) -> str:
    return yaml.safe_load((ROOT / "specs" / f"{lab}.yaml").read_text())["submission"]["package"]


def package_dir(key: str) -> Path:
    """The submission's package directory (stu_upload/, cs231n/ ...: the spec's submission.package)."""
    return SUBMISSIONS / key / package_name(lab_of(key))


@pytest.mark.parametrize("key", [key for key in sorted(MANIFEST) if MANIFEST[key]["based_on"]])
def test_a_derived_submission_changes_one_file_of_its_base(key):
    base = package_dir(f"{lab_of(key)}/{MANIFEST[key]['based_on']}")
    files = sorted(path.relative_to(base).as_posix() for path in base.rglob("*.py"))
    assert files == sorted(path.relative_to(package_dir(key)).as_posix() for path in package_dir(key).rglob("*.py"))
    _, changed, errors = filecmp.cmpfiles(base, package_dir(key), files, shallow=False)
    assert len(changed) == 1 and not errors, changed


# --- the correct submissions agree with the reference ---------------------------------------------

def load_module(key: str, module: str):
    """`<module>` of a submission, imported as a package under a name of its own (submissions share module names)."""
    package = "submission_" + key.replace("/", "_").replace("-", "_")
    if package not in sys.modules:
        spec = importlib.util.spec_from_file_location(package, stu_upload(key) / "__init__.py",
                                                      submodule_search_locations=[str(stu_upload(key))])
        sys.modules[package] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[package])
    return importlib.import_module(f"{package}.{module}")


def assert_matches(actual, expected, name=""):
    """float32 results to float32 rounding, float64 ones to float64 rounding; atol scales with the values."""
    actual, expected = np.asarray(actual), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape}, expected {expected.shape}"
    rtol = 1e-4 if actual.dtype == np.float32 else 1e-9
    scale = float(np.max(np.abs(expected), initial=1.0))
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=rtol, atol=rtol * scale, err_msg=name)


# (submission, forward method, backward method or None); 3-1 has forward only, 3-3 raw and speedup paths
CONV_PATHS = [(key, "forward", None) for key in CORRECT if lab_of(key) == "aics-exp3-1"] + [
    (key, forward, backward) for key in CORRECT if lab_of(key) == "aics-exp3-3"
    for forward, backward in (("forward_raw", "backward_raw"), ("forward_speedup", "backward_speedup"))]
POOL_PATHS = [(key, "forward", None) for key in CORRECT if lab_of(key) == "aics-exp3-1"] + [
    (key, forward, backward) for key in CORRECT if lab_of(key) == "aics-exp3-3"
    for forward, backward in (("forward_raw", "backward_raw_book"), ("forward_speedup", "backward_speedup"))]
STYLE_LAB = [key for key in CORRECT if lab_of(key) == "aics-exp3-3"]


@st.composite
def conv_cases(draw):
    """(x [N, Cin, H, W], weight [Cin, K, K, Cout], bias [Cout], dout, padding, stride) with K <= H + 2p."""
    kernel, padding, stride = draw(st.integers(1, 4)), draw(st.integers(0, 2)), draw(st.integers(1, 3))
    smallest = max(1, kernel - 2 * padding)
    batch, channels_in, channels_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    height, width = draw(st.integers(smallest, 7)), draw(st.integers(smallest, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out_h, out_w = (height + 2 * padding - kernel) // stride + 1, (width + 2 * padding - kernel) // stride + 1
    return (rng.standard_normal((batch, channels_in, height, width)),
            rng.standard_normal((channels_in, kernel, kernel, channels_out)),
            rng.standard_normal(channels_out), rng.standard_normal((batch, channels_out, out_h, out_w)),
            padding, stride)


@st.composite
def pool_cases(draw):
    """(x with distinct values, dout, kernel, stride): stride below, equal to or above the kernel."""
    kernel, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    batch, channels = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    shape = (batch, channels, draw(st.integers(kernel, 8)), draw(st.integers(kernel, 8)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.25 - 3.0   # distinct: no ties to break
    out_shape = shape[:2] + ((shape[2] - kernel) // stride + 1, (shape[3] - kernel) // stride + 1)
    return x, rng.standard_normal(out_shape), kernel, stride


@pytest.mark.parametrize("key,forward,backward", CONV_PATHS)
@settings(max_examples=15)
@given(case=conv_cases())
def test_correct_convolution_matches_the_reference(key, forward, backward, case):
    x, weight, bias, dout, padding, stride = case
    x_before = x.copy()
    kernel, channels_in, channels_out = weight.shape[1], weight.shape[0], weight.shape[3]
    layer = load_module(key, "layers_2").ConvolutionalLayer(kernel, channels_in, channels_out, padding, stride)
    layer.init_param()
    layer.load_param(weight, bias)
    output = getattr(layer, forward)(x)
    oihw = conv.aics_to_oihw(weight)
    assert_matches(output, conv.conv2d_forward(x, oihw, bias, stride=stride, padding=padding), "output")
    np.testing.assert_array_equal(x, x_before, err_msg="forward modified its input")
    if backward:
        bottom_diff = getattr(layer, backward)(dout)
        dx, dweight, dbias = conv.conv2d_backward(dout, x, oihw, stride=stride, padding=padding)
        assert_matches(bottom_diff, dx, "bottom_diff")
        assert_matches(layer.d_weight, conv.oihw_to_aics(dweight), "d_weight")
        assert_matches(layer.d_bias, dbias, "d_bias")


@pytest.mark.parametrize("key,forward,backward", POOL_PATHS)
@settings(max_examples=15)
@given(case=pool_cases())
def test_correct_max_pooling_matches_the_reference(key, forward, backward, case):
    x, dout, kernel, stride = case
    layer = load_module(key, "layers_2").MaxPoolingLayer(kernel, stride)
    assert_matches(getattr(layer, forward)(x), pool.maxpool2d_forward(x, kernel, stride), "output")
    if backward:
        assert_matches(getattr(layer, backward)(dout), pool.maxpool2d_backward(dout, x, kernel, stride), "bottom_diff")


@pytest.mark.parametrize("key,forward,backward", [path for path in POOL_PATHS if path[2]])
def test_correct_max_pooling_sends_a_tied_window_gradient_to_its_first_maximum(key, forward, backward):
    """After a ReLU whole windows are 0; the course's np.argmax picks the first cell in row-major order."""
    x = np.array([[[[0.0, 0.0, 1.0, 2.0],
                    [0.0, 0.0, 2.0, 0.5],
                    [3.0, 0.0, 0.0, 0.0],
                    [0.0, 3.0, 0.0, 0.0]]]])
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    layer = load_module(key, "layers_2").MaxPoolingLayer(2, 2)
    getattr(layer, forward)(x)
    expected = np.zeros_like(x)
    expected[0, 0, 0, 0], expected[0, 0, 0, 3], expected[0, 0, 2, 0], expected[0, 0, 2, 2] = 1.0, 2.0, 3.0, 4.0
    assert_matches(getattr(layer, backward)(dout), expected, "bottom_diff")


@pytest.mark.parametrize("key", CORRECT)
@settings(max_examples=10)
@given(batch=st.integers(1, 4), num_input=st.integers(1, 6), num_output=st.integers(1, 5),
       seed=st.integers(0, 2**32 - 1))
def test_correct_fully_connected_layer_matches_the_reference(key, batch, num_input, num_output, seed):
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal((batch, num_input)), rng.standard_normal((num_input, num_output))
    bias, dout = rng.standard_normal((1, num_output)), rng.standard_normal((batch, num_output))
    layer = load_module(key, "layers_1").FullyConnectedLayer(num_input, num_output)
    layer.init_param()
    layer.load_param(weight, bias)
    assert_matches(layer.forward(x), dense.fc_forward(x, weight, bias), "output")
    dx, dweight, dbias = dense.fc_backward(dout, x, weight, bias)
    assert_matches(layer.backward(dout), dx, "bottom_diff")
    assert_matches(layer.d_weight, dweight, "d_weight")
    assert_matches(layer.d_bias, dbias, "d_bias [1, out]")
    layer.update_param(0.1)
    assert_matches(layer.weight, weight - 0.1 * dweight, "updated weight")
    assert_matches(layer.bias, bias - 0.1 * dbias, "updated bias")


@pytest.mark.parametrize("key", CORRECT)
@settings(max_examples=10)
@given(batch=st.integers(1, 5), classes=st.integers(2, 12), offset=st.sampled_from([0.0, 1000.0]),
       seed=st.integers(0, 2**32 - 1))
def test_correct_relu_and_softmax_match_the_reference(key, batch, classes, offset, seed):
    """offset 1000: exp overflows unless the row maximum is subtracted first."""
    rng = np.random.default_rng(seed)
    logits, labels = rng.standard_normal((batch, classes)) * 5 + offset, rng.integers(0, classes, batch)
    layers_1 = load_module(key, "layers_1")
    softmax = layers_1.SoftmaxLossLayer()
    prob, loss, dlogits = losses.aics_softmax_loss(logits, labels)
    assert_matches(softmax.forward(logits), prob, "prob")
    assert_matches(softmax.get_loss(labels), loss, "loss")
    assert_matches(softmax.backward(), dlogits, "bottom_diff")
    x, dout = rng.standard_normal((batch, classes)), rng.standard_normal((batch, classes))
    x[np.abs(x) < 1e-3] = 0.5          # the ReLU kink is the one place implementations may differ
    relu = layers_1.ReLULayer()
    assert_matches(relu.forward(x), activations.relu_forward(x), "relu output")
    assert_matches(relu.backward(dout), activations.relu_backward(dout, x), "relu bottom_diff")


@pytest.mark.parametrize("key", [key for key in CORRECT if lab_of(key) != "aics-exp2-1"])
def test_correct_flatten_goes_through_nhwc(key):
    x = np.random.default_rng(5).standard_normal((2, 3, 2, 4))
    layer = load_module(key, "layers_2").FlattenLayer([3, 2, 4], [24])
    assert_matches(layer.forward(x), flatten.flatten_nhwc_forward(x), "output")
    if hasattr(layer, "backward"):
        dout = np.random.default_rng(6).standard_normal((2, 24))
        assert_matches(layer.backward(dout), flatten.flatten_nhwc_backward(dout, x.shape), "bottom_diff")


@pytest.mark.parametrize("key", STYLE_LAB)
@settings(max_examples=10)
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5)),
       seed=st.integers(0, 2**32 - 1))
def test_correct_content_and_style_losses_match_the_reference(key, shape, seed):
    rng = np.random.default_rng(seed)
    x, target = rng.standard_normal(shape), rng.standard_normal(shape)
    layers_3 = load_module(key, "layers_3")
    content, style_layer = layers_3.ContentLossLayer(), layers_3.StyleLossLayer()
    assert_matches(content.forward(x, target), style.content_loss_forward(x, target), "content loss")
    assert_matches(content.backward(x, target), style.content_loss_backward(x, target), "content gradient")
    assert_matches(style_layer.forward(x, target), style.style_loss_forward(x, target), "style loss")
    assert_matches(style_layer.backward(x, target), style.style_loss_backward(x, target), "style gradient")


@pytest.mark.parametrize("key", STYLE_LAB)
def test_correct_adam_matches_the_reference_step_by_step(key):
    rng = np.random.default_rng(7)
    expected = actual = rng.standard_normal((1, 3, 4, 5))
    adam, state = load_module(key, "exp_3_3_style_transfer").AdamOptimizer(0.5, [1, 3, 4, 5]), None
    for step in range(5):
        grad = rng.standard_normal(expected.shape) * 10.0 ** (step - 2)   # sizes change, so the bias correction shows
        expected, state = optim.adam(expected, grad, state, learning_rate=0.5)
        actual = adam.update(actual, grad)
        assert_matches(actual, expected, f"image after step {step + 1}")
