"""The legacy shims behave like the removed functions (checked here in-process; the child uses the same module)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.sandbox import compat


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(40, 30, 3), dtype=np.uint8)


def test_bytescale_maps_the_data_range_to_0_255_and_leaves_uint8_alone():
    np.testing.assert_array_equal(compat.bytescale(np.array([-1.0, 0.0, 1.0])), [0, 128, 255])
    untouched = np.array([3, 200], dtype=np.uint8)
    assert compat.bytescale(untouched) is untouched


def test_imresize_takes_height_width_channels_and_resamples_bilinearly(rgb):
    resized = compat.imresize(rgb, [24, 10, 3])
    expected = np.array(Image.fromarray(rgb).resize((10, 24), Image.Resampling.BILINEAR))
    assert resized.shape == (24, 10, 3) and resized.dtype == np.uint8
    np.testing.assert_array_equal(resized, expected)
    nearest = np.array(Image.fromarray(rgb).resize((10, 24), Image.Resampling.NEAREST))
    assert not np.array_equal(resized, nearest)


@pytest.mark.parametrize("size", [50, 0.5])
def test_imresize_takes_an_int_percentage_or_a_float_fraction(rgb, size):
    assert compat.imresize(rgb, size).shape == (20, 15, 3)


def test_imresize_scales_float_images_to_uint8_like_the_old_function():
    image = np.linspace(-1.0, 3.0, 8 * 6 * 3).reshape(8, 6, 3)
    resized = compat.imresize(image, (8, 6, 3), interp="nearest")
    assert resized.dtype == np.uint8 and resized.min() == 0 and resized.max() == 255


def test_imread_expands_palettes_and_keeps_grey_images_two_dimensional(tmp_path, rgb):
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    palette.save(tmp_path / "palette.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png")
    colour = compat.imread(tmp_path / "palette.png")
    assert colour.shape == (40, 30, 3) and colour.dtype == np.uint8
    np.testing.assert_array_equal(colour, np.array(palette.convert("RGB")))
    assert compat.imread(tmp_path / "grey.png").shape == (40, 30)
    flat = compat.imread(tmp_path / "palette.png", flatten=True)
    assert flat.shape == (40, 30) and flat.dtype == np.float32


def test_imsave_writes_what_imread_reads_back(tmp_path):
    image = np.linspace(0.0, 1.0, 12 * 9 * 3).reshape(12, 9, 3)
    compat.imsave(tmp_path / "out.png", image)
    np.testing.assert_array_equal(compat.imread(tmp_path / "out.png"), compat.bytescale(image))


def test_the_scipy_misc_shim_records_use_and_names_the_release_for_what_it_lacks(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "image.png")
    misc = compat._scipy_misc()
    compat.drain()
    assert misc.imread(tmp_path / "image.png").shape == (40, 30, 3)
    assert compat.drain() == ["scipy.misc.imread"]
    with pytest.raises(AttributeError, match=r"scipy.misc.derivative was removed in SciPy 1.12.0"):
        misc.derivative


@pytest.mark.parametrize("name, words", [
    ("float", "np.float was removed in NumPy 1.24; use the builtin float"),
    ("asscalar", "np.asscalar was removed in NumPy 1.23"),
    ("msort", "np.msort was removed in NumPy 2.0"),
])
def test_removed_numpy_names_get_their_release_named(name, words):
    assert words in compat.removed_api_hint(AttributeError("gone", name=name, obj=np))


def test_names_that_were_never_there_get_no_removal_hint():
    assert compat.removed_api_hint(AttributeError("gone", name="convolve2d", obj=np)) is None


@pytest.mark.parametrize("name", ["float", "float_"])
def test_numpys_own_messages_are_recognised_when_the_exception_has_no_name(name):
    with pytest.raises(AttributeError) as raised:
        getattr(np, name)
    assert f"np.{name} was removed in NumPy" in compat.removed_api_hint(raised.value)


# --- the old scipy.misc against the real one (Python 2.7, SciPy 1.2.3, Pillow 6.2.2) --------------------

ORACLE = """
import sys, warnings
import numpy as np
warnings.simplefilter("ignore")
import scipy.misc as m
from PIL import Image
inputs = dict(np.load(sys.argv[1]))
folder = sys.argv[3]
out = {}
exec(open(sys.argv[4]).read())
np.savez(sys.argv[2], **out)
"""
# Runs under both interpreters with ``m`` the scipy.misc to test, ``inputs`` and ``folder``; fills ``out``.
CALLS = """
rgb, flt, neg = inputs["rgb"], inputs["float_rgb"], inputs["float_grey"]
for interp in ("nearest", "bilinear", "bicubic", "lanczos"):
    out["resize_rgb_tuple_" + interp] = m.imresize(rgb, (24, 10, 3), interp=interp)
out["resize_rgb_percent"] = m.imresize(rgb, 50)
out["resize_rgb_fraction"] = m.imresize(rgb, 0.37)
out["resize_float_rgb"] = m.imresize(flt, [17, 13])
out["resize_float_grey"] = m.imresize(neg, (9, 21))
out["resize_grey_mode_F"] = m.imresize(neg, (9, 21), mode="F")
out["resize_channels_first"] = m.imresize(np.ascontiguousarray(np.transpose(flt, (2, 0, 1))), (11, 7))
out["bytescale"] = m.bytescale(neg)
out["bytescale_range"] = m.bytescale(neg, cmin=-0.5, cmax=0.5, high=200, low=10)
out["toimage_P"] = np.array(m.toimage(neg, mode="P"))
out["toimage_I"] = np.array(m.toimage(neg * 100, mode="I"))
out["toimage_1"] = np.array(m.toimage(neg * 300, mode="1", high=100)).astype(np.uint8)
out["toimage_rgba"] = np.array(m.toimage(np.concatenate([flt, flt[..., :1]], axis=2)))
out["rotate"] = m.imrotate(rgb, 30)
out["filter_blur"] = m.imfilter(rgb, "blur")
out["filter_edges"] = m.imfilter(rgb, "find_edges")
for name in ("palette.png", "grey.png", "rgba.png", "rgb.bmp"):
    out["read_" + name] = m.imread(folder + "/" + name)
    out["read_flat_" + name] = m.imread(folder + "/" + name, flatten=True)
    out["read_modeL_" + name] = m.imread(folder + "/" + name, mode="L")
m.imsave(folder + "/saved-%s.png" % sys.version_info[0], flt)
out["imsave_float"] = np.array(Image.open(folder + "/saved-%s.png" % sys.version_info[0]))
"""
# Pillow's own RGB->L conversion and L resampling round differently in Pillow 6 and 13 (by one grey level);
# everything the shims compute themselves is identical.
PILLOW_ROUNDING = {"read_modeL_palette.png", "read_modeL_rgb.bmp", "read_modeL_rgba.png", "resize_float_grey",
                   "resize_grey_mode_F"}


def _old_scipy() -> str | None:
    import os
    import shutil
    import subprocess
    from pathlib import Path
    candidates = [os.environ.get("HARNESS_PYTHON27"), str(Path.home() / ".pyenv/versions/2.7.18/bin/python"),
                  shutil.which("python2.7")]
    for candidate in filter(None, candidates):
        if Path(candidate).is_file() and subprocess.run(
                [candidate, "-c", "import scipy.misc, PIL; scipy.misc.imresize"], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    """The same calls through the real scipy.misc (Python 2.7) and through the shims; both outputs."""
    import subprocess
    python27 = _old_scipy()
    if python27 is None:
        pytest.skip("no Python 2.7 with scipy==1.2.3 and pillow==6.2.2 here (.ci/setup installs them)")
    folder = tmp_path_factory.mktemp("oracle")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(40, 30, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, size=(40, 30), dtype=np.uint8)
    inputs = {"rgb": rgb, "float_rgb": np.linspace(-1.0, 3.0, 3600).reshape(40, 30, 3) + rng.normal(0, 0.1, (40, 30, 3)),
              "float_grey": rng.normal(0, 1, (40, 30))}
    np.savez(folder / "in.npz", **inputs)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(folder / "palette.png")
    Image.fromarray(grey).save(folder / "grey.png")
    Image.fromarray(np.dstack([rgb, grey])).save(folder / "rgba.png")
    Image.fromarray(rgb).save(folder / "rgb.bmp")
    (folder / "oracle.py").write_text(ORACLE)
    (folder / "calls.py").write_text(CALLS)
    done = subprocess.run([python27, str(folder / "oracle.py"), str(folder / "in.npz"), str(folder / "old.npz"),
                           str(folder), str(folder / "calls.py")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    import sys
    ours: dict = {}
    exec(CALLS, {"m": compat, "np": np, "Image": Image, "sys": sys, "inputs": inputs, "folder": str(folder),
                 "out": ours})
    return dict(np.load(folder / "old.npz")), ours


def test_the_shims_give_what_scipy_1_2_gave(oracle_run):
    old, ours = oracle_run
    assert set(old) == set(ours)
    for name in sorted(old):
        assert ours[name].dtype == old[name].dtype and ours[name].shape == old[name].shape, name
        allowed = 1 if name in PILLOW_ROUNDING else 0
        difference = np.abs(ours[name].astype(np.float64) - old[name].astype(np.float64)).max()
        assert difference <= allowed, (name, difference)


def test_imresize_of_a_float_image_rescales_by_its_own_range_not_by_255():
    """The quirk students' preprocessing depended on: [0, 1] floats come back as 0..255 uint8."""
    image = np.linspace(0.2, 0.6, 6 * 4 * 3).reshape(6, 4, 3)
    resized = compat.imresize(image, (6, 4))
    assert resized.dtype == np.uint8 and resized.min() == 0 and resized.max() == 255


# --- the removed names, libraries not installed, scipy.misc as an attribute: in a real child -----------

LEGACY = '''
import json
import numpy as np
import scipy.io
import cv2
import matplotlib.pyplot as plt
from skimage import io as skio
from skimage.transform import resize as sk_resize
from tqdm import tqdm
import numba
try:
    import pyfftw
except ImportError:
    pyfftw = None

NAMES = {names!r}


def as_array(value):
    """Values come back as arrays: the result as JSON text in uint8."""
    return np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)


def numpy_names():
    found = {{}}
    for name in NAMES:
        value = getattr(np, name)
        found[name] = type(value).__name__
    return as_array(found)


def numpy_values():
    a = np.arange(6.0).reshape(2, 3)
    return as_array({{
        "mat": np.asarray(np.mat(a) * np.mat(a.T)).tolist(), "asfarray": str(np.asfarray([1, 2]).dtype),
        "product": float(np.product(a + 1)), "cumproduct": np.cumproduct([1, 2, 3]).tolist(),
        "alltrue": bool(np.alltrue(a >= 0)), "sometrue": bool(np.sometrue(a > 4)), "float_": str(np.float_),
        "int0": str(np.dtype(np.int0)), "bool8": str(np.dtype(np.bool8)), "in1d": np.in1d([1, 5], [5]).tolist(),
        "trapz": float(np.trapz([1.0, 2.0, 3.0])), "asscalar": np.asscalar(np.array([4.5])),
        "rank": np.rank(a), "msort": np.msort(np.array([[3, 1], [1, 2]])).tolist(),
        "cast": str(np.cast["float32"]([1, 2]).dtype), "row_stack": np.row_stack([[1], [2]]).shape[0],
        "find_common_type": str(np.find_common_type([np.float32], [np.int64])),
        "sctype2char": np.sctype2char(np.float64), "issubclass_": np.issubclass_(3, int),
        "safe_eval": np.safe_eval("[1, 2]"), "Inf": np.Inf, "NINF": np.NINF,
        "random_integers": bool(np.all((np.random.random_integers(1, 3, 20) >= 1) &
                                       (np.random.random_integers(1, 3, 20) <= 3))),
        "math": np.math.sqrt(4.0),
    }})


def scipy_misc():
    import scipy
    image = np.linspace(0.0, 1.0, 8 * 6 * 3).reshape(8, 6, 3)
    resized = scipy.misc.imresize(image, [4, 3, 3])
    import scipy.ndimage
    return as_array({{"shape": list(resized.shape), "dtype": str(resized.dtype), "max": int(resized.max()),
                     "logsumexp": float(scipy.misc.logsumexp([0.0, 0.0])), "comb": float(scipy.misc.comb(5, 2)),
                     "ndimage_imread": scipy.ndimage.imread is not None}})


def plots():
    fig, (left, right) = plt.subplots(1, 2)
    left.imshow(np.zeros((2, 2)))
    plt.savefig("figure.png")
    plt.show()
    _, grid = plt.subplots(2, 3)
    return as_array({{"grid": list(grid.shape), "loop": [i for i in tqdm(range(3))], "fallback": pyfftw is None,
                     "jit": jitted(2)}})


@numba.jit(nopython=True)
def jitted(x):
    return x + 1


def read_like_students(name):
    """load_image's first lines as students wrote them: imageio, and scipy.misc after a bare import scipy.io."""
    import imageio
    by_imageio = np.asarray(imageio.imread(name))
    by_misc = scipy.misc.imresize(scipy.misc.imread(name, mode='RGB'), [10, 12, 3])
    return as_array({{"imageio": by_imageio.tolist(), "misc": by_misc.tolist()}})


def uses_cv2(path):
    return cv2.imread(path)


def uses_skimage():
    return sk_resize(np.zeros((4, 4)), (2, 2))
'''
USES_MISSING_AT_IMPORT = '''
from layers_x import Thing
'''


@pytest.fixture(scope="module")
def legacy_package(tmp_path_factory):
    package = tmp_path_factory.mktemp("legacy") / "stu_upload"
    package.mkdir()
    (package / "legacy.py").write_text(LEGACY.format(names=sorted(compat.NUMPY_ALIASES)))
    (package / "honest.py").write_text("def double(x):\n    return 2 * x\n")
    rgb = np.random.default_rng(1).integers(0, 256, size=(20, 16, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(package / "cat.png")
    return package


@pytest.fixture(scope="module")
def legacy_session(legacy_package):
    from harness.sandbox import Limits, SandboxConfig, Session
    session = Session(SandboxConfig(submission_dir=legacy_package, limits=Limits(wall_time=60.0)))
    session.open()
    yield session
    session.close()


def _call(session, function, *args):
    """The reply, with its JSON result decoded into reply.values["out"] when the call returned."""
    import json
    from sandbox_helpers import call, program
    reply = session.run(program({"import": "legacy", "as": "m"}, call(f"m.{function}", *args, as_="out"),
                                outputs=["out"]))
    if reply.status == "ok":
        reply.values["out"] = json.loads(reply.values["out"].tobytes())
    return reply


def test_every_removed_numpy_name_resolves_and_is_recorded(legacy_session):
    reply = _call(legacy_session, "numpy_names")
    assert reply.status == "ok", (reply.error, reply.detail)
    assert set(reply.values["out"]) == set(compat.NUMPY_ALIASES)
    assert "numpy.mat" in reply.compat_used and "numpy.asfarray" in reply.compat_used


def test_removed_numpy_names_behave_as_they_did(legacy_session):
    reply = _call(legacy_session, "numpy_values")
    assert reply.status == "ok", (reply.error, reply.detail)
    values = reply.values["out"]
    assert values["mat"] == [[5.0, 14.0], [14.0, 50.0]]
    assert values["asfarray"] == "float64" and values["product"] == 720.0 and values["cumproduct"] == [1, 2, 6]
    assert values["alltrue"] is True and values["sometrue"] is True and values["float_"] == "<class 'numpy.float64'>"
    assert values["int0"] == "int64" and values["bool8"] == "bool" and values["in1d"] == [False, True]
    assert values["trapz"] == 4.0 and values["asscalar"] == 4.5 and values["rank"] == 2
    assert values["msort"] == [[1, 1], [3, 2]] and values["cast"] == "float32" and values["row_stack"] == 2
    assert values["find_common_type"] == "float32" and values["sctype2char"] == "d"
    assert values["issubclass_"] is False and values["safe_eval"] == [1, 2]
    assert values["Inf"] == float("inf") and values["NINF"] == float("-inf")
    assert values["random_integers"] is True and values["math"] == 2.0


def test_scipy_misc_is_an_attribute_after_import_scipy_io(legacy_session):
    reply = _call(legacy_session, "scipy_misc")
    assert reply.status == "ok", (reply.error, reply.detail)
    values = reply.values["out"]
    assert values["shape"] == [4, 3, 3] and values["dtype"] == "uint8" and values["max"] > 200    # 0..1 -> 0..255
    assert values["logsumexp"] == pytest.approx(np.log(2.0)) and values["comb"] == 10.0
    assert values["ndimage_imread"] is True
    assert "scipy.misc.imresize" in reply.compat_used


def test_students_image_readers_work_in_the_child(legacy_session, legacy_package):
    reply = _call(legacy_session, "read_like_students", "cat.png")
    assert reply.status == "ok", (reply.error, reply.detail)
    rgb = np.asarray(Image.open(legacy_package / "cat.png"))
    np.testing.assert_array_equal(reply.values["out"]["imageio"], rgb)
    np.testing.assert_array_equal(reply.values["out"]["misc"], compat.imresize(rgb, [10, 12, 3]))


def test_plotting_progress_bars_and_numba_cost_nothing(legacy_session):
    reply = _call(legacy_session, "plots")
    assert reply.status == "ok", (reply.error, reply.detail)
    assert reply.values["out"] == {"grid": [2, 3], "loop": [0, 1, 2], "fallback": True, "jit": 3}


@pytest.mark.parametrize("function, args, library", [("uses_cv2", ("image.jpg",), "cv2"),
                                                     ("uses_skimage", (), "skimage")])
def test_a_library_not_installed_fails_only_where_it_is_used_and_says_which(legacy_session, function, args, library):
    reply = _call(legacy_session, function, *args)
    assert reply.status == "error"
    assert reply.error.exc_type == "ModuleNotFoundError"
    assert f"needs the library {library}, which is not installed in the grading environment" in reply.error.message
    assert any(name.startswith(f"{library} (not installed") for name in legacy_session.summary()["compat_used"])


def test_without_compat_the_import_itself_fails(legacy_package):
    from harness.sandbox import Limits, SandboxConfig, Session
    session = Session(SandboxConfig(submission_dir=legacy_package, limits=Limits(wall_time=60.0), compat=False))
    try:
        reply = _call(session, "numpy_values")
    finally:
        session.close()
    assert reply.status == "error" and reply.error.exc_type == "ModuleNotFoundError"
    assert "cv2" in reply.error.message


def test_only_the_submissions_own_imports_get_stand_ins():
    """numpy, scipy and the harness's child code probe for optional libraries: they get the real ImportError."""
    import os
    import sys
    finder = compat._MissingLibraryFinder()
    probe = "spec = finder.find_spec('cv2')"
    for filename, stands_in in ((os.path.join(sys.prefix, "lib", "installed.py"), False),
                                ("<sandbox interpreter>", False), ("/tmp/stu_upload/vgg_cpu.py", True)):
        namespace = {"finder": finder}
        exec(compile(probe, filename, "exec"), namespace)
        assert (namespace["spec"] is not None) is stands_in, filename
    assert compat._may_stand_in("cv2") and not compat._may_stand_in("os") and not compat._may_stand_in("cPickle")
    assert not compat._may_stand_in("layers_9")         # a file the submission forgot keeps its ImportError


def test_import_guards_are_found_in_the_source(tmp_path):
    source = tmp_path / "guarded.py"
    source.write_text("try:\n    import cv2\nexcept ImportError:\n    cv2 = None\nimport skimage\n"
                      "try:\n    import tqdm\nexcept (ValueError, ModuleNotFoundError):\n    pass\n"
                      "try:\n    import numba\nexcept KeyError:\n    pass\n")
    assert compat._inside_import_guard(str(source), 2)
    assert not compat._inside_import_guard(str(source), 5)
    assert compat._inside_import_guard(str(source), 7)
    assert not compat._inside_import_guard(str(source), 11)


# --- the field kinds, end to end (shared/field-kinds/KINDS.md: imageio-reader, np-mat, scipy.misc) -----

EXP31_FAST = Path(__file__).resolve().parents[2] / "submissions" / "aics-exp3-1" / "correct-vectorized"
EXP21 = Path(__file__).resolve().parents[2] / "submissions" / "aics-exp2-1" / "correct"
VGG_CHECKS = ["vgg19.pool5", "vgg19.softmax", "vgg19.top1", "vgg19.preprocess"]
PIL_READ = "image = Image.open(image_dir).convert('RGB').resize((224, 224), Image.BILINEAR)"
READERS = {
    # a Python 3 student reading with imageio (a dependency of the harness)
    "imageio": ("import imageio\n",
                "image = Image.fromarray(imageio.imread(image_dir)).convert('RGB').resize((224, 224), Image.BILINEAR)"),
    # the template's scipy.misc calls after a bare `import scipy.io` (SciPy < 1.2 made scipy.misc an attribute)
    "scipy-misc": ("", "image = scipy.misc.imresize(scipy.misc.imread(image_dir, mode='RGB'), [224, 224, 3])"),
    # OpenCV, plotting and scikit-image imported at the top, none installed here
    "cv2": ("import cv2\nimport matplotlib.pyplot as plt\nimport skimage.io\n",
            "image = Image.fromarray(cv2.imread(image_dir)[:, :, ::-1]).resize((224, 224), Image.BILINEAR)"),
}


@pytest.fixture(scope="module")
def exp31_context():
    from harness.context import build_context
    from harness.spec import load_spec
    return build_context(load_spec("aics-exp3-1"))


def _with_reader(tmp_path, reader: str) -> Path:
    import shutil
    imports, read = READERS[reader]
    root = tmp_path / reader
    shutil.copytree(EXP31_FAST, root, ignore=shutil.ignore_patterns("__pycache__", "EXPECT*"))
    source = root / "stu_upload" / "vgg_cpu.py"
    text = source.read_text()
    assert PIL_READ in text and "import scipy.io\n" in text
    source.write_text(text.replace("import scipy.io\n", "import scipy.io\n" + imports, 1).replace(PIL_READ, read))
    return root


@pytest.mark.slow
def test_checks_on_the_harness_image_never_depend_on_load_image(tmp_path, exp31_context):
    """The imageio-reader kind with a reader that is not installed (cv2): pool5, softmax and top-1 run on the
    harness's image and pass; the preprocess check, which calls load_image, fails naming the library."""
    from harness import api
    result = api.check(_with_reader(tmp_path, "cv2"), context=exp31_context, only=VGG_CHECKS)
    status = {check.id: check.status for check in result.checks if check.id in VGG_CHECKS}
    assert status == {"vgg19.pool5": "pass", "vgg19.softmax": "pass", "vgg19.top1": "pass",
                      "vgg19.preprocess": "error"}
    message = result.check("vgg19.preprocess").message
    assert "cv2.imread needs the library cv2, which is not installed in the grading environment" in message
    assert "cv2 (not installed: a stand-in that fails when used)" in result.sandbox["compat_used"]


def test_np_mat_is_emulated_and_noted(tmp_path):
    import shutil
    from harness import api
    root = tmp_path / "np-mat"
    shutil.copytree(EXP21, root, ignore=shutil.ignore_patterns("__pycache__", "EXPECT*"))
    source = root / "stu_upload" / "layers_1.py"
    line = "self.output = np.matmul(self.input, self.weight) + self.bias"
    assert line in source.read_text()
    source.write_text(source.read_text().replace(
        line, "self.output = np.asarray(np.mat(self.input) * np.mat(self.weight)) + self.bias"))
    result = api.check(root, "aics-exp2-1")
    assert result.score == result.max_score == 100, [(c.id, c.message) for c in result.checks if c.status != "pass"]
    assert "numpy.mat" in result.sandbox["compat_used"]
    off = api.check(root, "aics-exp2-1", compat=False, only=["fc.forward"])
    assert off.check("fc.forward").status == "error" and "np.mat" in off.check("fc.forward").message


class _ScriptedSession:
    """Answers the VGG19 kind's requests with prepared replies, recording the programs it was sent."""

    def __init__(self, *replies):
        self.replies, self.programs = list(replies), []

    def run(self, program, arrays=None, timeout=None, fresh=True):
        self.programs.append(program)
        return self.replies.pop(0)


def _vgg_run(exp31_context, *replies):
    from harness.adapters import registry
    from harness.context import RunContext
    kind, check = registry.get("aics.vgg19.classify"), exp31_context.spec.check("vgg19.pool5")
    session = _ScriptedSession(*replies)
    outcome = kind._run_student(session, check, {"image": np.zeros((1, 3, 224, 224))}, RunContext(exp31_context))
    return outcome, session


@pytest.mark.parametrize("died", ["timeout", "crashed"])
def test_a_load_image_that_kills_the_child_costs_the_forward_pass_nothing(exp31_context, died):
    """The child died somewhere in the one program: the forward pass runs again alone to tell where."""
    from harness.adapters.base import ChildFailure, Execution
    from harness.sandbox.reply import Reply
    softmax = np.full((1, 1000), 1e-3)
    outcome, session = _vgg_run(exp31_context, Reply(died, detail="the child died"),
                                Reply("ok", values={"pool5": np.zeros((1, 512, 7, 7)), "softmax": softmax}))
    assert isinstance(outcome["forward"], Execution) and outcome["forward"].values["top1"] == 0
    assert isinstance(outcome["load_image"], ChildFailure) and outcome["load_image"].reply.status == died
    first, second = session.programs
    assert any("load_image" in str(step) for step in first["steps"])
    assert not any("load_image" in str(step) for step in second["steps"])


def test_an_exception_in_the_forward_pass_is_not_run_twice(exp31_context):
    from harness.adapters.base import ChildFailure
    from harness.sandbox.reply import ChildError, Reply
    outcome, session = _vgg_run(exp31_context, Reply("error", error=ChildError("ValueError", "bad conv")))
    assert isinstance(outcome["forward"], ChildFailure) and len(session.programs) == 1
