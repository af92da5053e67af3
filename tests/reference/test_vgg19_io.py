"""VGG19 weights I/O in the MatConvNet layout, preprocessing, the shipped images and the ImageNet classes.

The .mat round trip is proven twice: by load_params, and by a copy of the
lab template's own load_model (vgg_cpu.py), which is how students read the
real imagenet-vgg-verydeep-19.mat.
"""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

from reference.vgg19 import classes, matconvnet, preprocess, synthetic, weights
from reference.vgg19.data import make_images
from reference.vgg19.params import CONV_PART_NAMES, LAYER_NAMES, VGG19Params

IMAGENET_MEAN = np.float32([123.68, 116.779, 103.939])


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def weights_file(cache_dir):
    return weights.synthetic_weights_path(seed=0, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def params():
    return synthetic.synthetic_params(0)


@pytest.fixture(scope="module")
def raw_mat(weights_file):
    return scipy.io.loadmat(weights_file)


# --- the lab's loader --------------------------------------------------------------------------

def lab_load_model(contents: dict) -> tuple[dict, np.ndarray]:
    """vgg_cpu.py's load_model, filled in as the course's solutions do, on scipy.io.loadmat's result.

    Returns {course layer name: (weight, bias)} in the course layouts
    (conv [Cin, K, K, Cout] and bias [Cout]; fc [in, out] and bias as stored)
    and the image mean.
    """
    loaded = {}
    image_mean = np.mean(contents["normalization"][0][0][0], axis=(0, 1))
    for idx in range(43):
        name = LAYER_NAMES[idx]
        if "conv" in name:
            weight, bias = contents["layers"][0][idx][0][0][0][0]
            loaded[name] = (np.transpose(weight, [2, 0, 1, 3]), bias.reshape(-1))
        if idx >= 37 and "fc" in name:
            weight, bias = contents["layers"][0][idx - 1][0][0][0][0]
            weight = weight.reshape([weight.shape[0] * weight.shape[1] * weight.shape[2], weight.shape[3]])
            loaded[name] = (weight, bias)
    return loaded, image_mean


@pytest.fixture(scope="module")
def lab_loaded(raw_mat):
    return lab_load_model(raw_mat)


def test_lab_loader_reads_the_conv_weights_in_its_layout(lab_loaded, params):
    loaded, _ = lab_loaded
    for name, (weight, bias) in params.conv.items():
        lab_weight, lab_bias = loaded[name]
        assert np.array_equal(lab_weight, weight.transpose(2, 0, 1, 3)), name
        np.testing.assert_array_equal(lab_bias, bias, err_msg=name)


def test_lab_loader_reads_the_fc_layers_one_index_earlier_with_row_biases(lab_loaded, params):
    loaded, _ = lab_loaded
    for name, (weight, bias) in params.fc.items():
        lab_weight, lab_bias = loaded[name]
        assert np.array_equal(lab_weight, weight), name
        # FullyConnectedLayer.load_param asserts bias.shape == [1, out] on the unreshaped bias.
        assert lab_bias.shape == (1, weight.shape[1]), name
        np.testing.assert_array_equal(lab_bias[0], bias, err_msg=name)


def test_lab_loader_gets_the_imagenet_mean(lab_loaded):
    _, image_mean = lab_loaded
    np.testing.assert_allclose(image_mean, IMAGENET_MEAN, rtol=0, atol=1e-4)


def test_file_is_float32_like_the_real_one(raw_mat):
    weight, bias = raw_mat["layers"][0][0][0][0][0][0]
    assert weight.dtype == np.float32 and bias.dtype == np.float32
    assert raw_mat["normalization"][0][0][0].dtype == np.float32


# --- load_params ---------------------------------------------------------------------------------

def test_load_params_round_trips_every_array_exactly(weights_file, params):
    loaded = matconvnet.load_params(weights_file)
    for group in ("conv", "fc"):
        for name, (weight, bias) in getattr(params, group).items():
            loaded_weight, loaded_bias = getattr(loaded, group)[name]
            assert loaded_weight.shape == weight.shape and loaded_bias.shape == bias.shape, name
            assert np.array_equal(loaded_weight, weight), name
            np.testing.assert_array_equal(loaded_bias, bias, err_msg=name)
    np.testing.assert_array_equal(loaded.mean_rgb, params.mean_rgb)
    assert loaded.class_names == classes.class_names()


def test_average_image_is_smooth_non_constant_with_exact_channel_means(raw_mat):
    average = raw_mat["normalization"][0][0][0]
    assert average.shape == matconvnet.AVERAGE_IMAGE_SHAPE
    np.testing.assert_array_equal(np.mean(average, axis=(0, 1), dtype=np.float64), IMAGENET_MEAN)
    assert np.all(average.std(axis=(0, 1)) > 0.5)
    assert np.abs(np.diff(average, axis=0)).max() < 0.2 and np.abs(np.diff(average, axis=1)).max() < 0.2


def test_layer_structs_follow_matconvnet(raw_mat):
    layers = raw_mat["layers"][0]
    assert len(layers) == 43
    for index, expected_name in enumerate(CONV_PART_NAMES + ("fc6", "relu6", "fc7", "relu7", "fc8", "prob")):
        record = layers[index][0, 0]
        kind = str(record["type"][0])
        assert str(record["name"][0]) == expected_name
        if expected_name.startswith(("conv", "fc")):
            assert record.dtype.names[0] == "weights" and kind == "conv"
            assert record["weights"].shape == (1, 2)
            expected_pad = 1 if expected_name.startswith("conv") else 0
            np.testing.assert_array_equal(record["pad"], np.full((1, 4), expected_pad))
        elif expected_name.startswith("pool"):
            assert kind == "pool" and str(record["method"][0]) == "max"
            np.testing.assert_array_equal(record["pool"], [[2, 2]])
            np.testing.assert_array_equal(record["stride"], [[2, 2]])
        elif expected_name == "prob":
            assert kind == "softmax"
        else:
            assert kind == "relu"


def test_classes_struct_has_wordnet_ids_and_descriptions(raw_mat):
    imagenet = raw_mat["classes"][0, 0]
    assert str(imagenet["name"][0, 281][0]) == "n02123045"
    assert str(imagenet["description"][0, 281][0]) == "tabby, tabby cat"


# --- writing: cache, atomicity -------------------------------------------------------------------

def test_synthetic_weights_path_is_cached_and_versioned(cache_dir, weights_file, monkeypatch):
    before = weights_file.stat()
    assert weights.synthetic_weights_path(seed=0, cache_dir=cache_dir) == weights_file
    assert weights_file.stat().st_mtime_ns == before.st_mtime_ns
    assert f"-v{synthetic.GENERATOR_VERSION}-seed0-" in weights_file.name
    assert os.stat(weights_file).st_mode & 0o044 == 0o044          # readable by other graders
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", synthetic.GENERATOR_VERSION + 1)
    assert weights.synthetic_weights_name(0) != weights_file.name


def test_cache_dir_comes_from_the_environment(cache_dir, weights_file, monkeypatch):
    monkeypatch.setenv(weights.CACHE_ENV, str(cache_dir))
    monkeypatch.delenv(weights.WEIGHTS_ENV, raising=False)
    assert weights.resolve_weights() == weights_file


def test_resolve_weights_prefers_explicit_path_then_environment(tmp_path, monkeypatch):
    given, from_environment = tmp_path / "given.mat", tmp_path / "env.mat"
    given.write_bytes(b"x")
    from_environment.write_bytes(b"x")
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(from_environment))
    assert weights.resolve_weights(given) == given
    assert weights.resolve_weights() == from_environment


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_resolve_weights_refuses_a_missing_file(tmp_path, monkeypatch, source):
    missing = tmp_path / "imagenet-vgg-verydeep-19.mat"
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(missing))
    with pytest.raises(FileNotFoundError, match="imagenet-vgg-verydeep-19.mat: no such VGG19 weights file"):
        weights.resolve_weights(missing if source == "argument" else None)


def test_failed_write_leaves_neither_file_nor_temporary(tmp_path, params, monkeypatch):
    def fail(stream, *args, **kwargs):
        stream.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(scipy.io, "savemat", fail)
    with pytest.raises(OSError, match="disk full"):
        matconvnet.write_params(tmp_path / "vgg.mat", params)
    assert list(tmp_path.iterdir()) == []


# --- clear errors for wrong files ----------------------------------------------------------------

def _small_layers(first_conv: dict) -> dict:
    """A 43-entry 'layers' cell whose conv1_1 is ``first_conv`` (load_params reads conv1_1 first)."""
    entries = [first_conv] + [{"type": "relu", "name": name} for name in matconvnet.MAT_LAYER_NAMES[1:]]
    return {"layers": matconvnet._object_row(entries)}


def _conv1_1(weight_shape=(3, 3, 3, 64)) -> np.ndarray:
    return matconvnet._object_row([np.zeros(weight_shape, np.float32), np.zeros((1, weight_shape[3]), np.float32)])


@pytest.mark.parametrize("contents, message", [
    ({"x": np.ones(3)}, r"no 'layers' variable \(variables found: x\)"),
    ({"layers": matconvnet._object_row([{"type": "relu", "name": "relu"}] * 5)}, "'layers' has 5 entries, expected 43"),
    (_small_layers({"name": "conv1_1", "weights": _conv1_1()}), "first field is 'name', not 'weights'"),
    (_small_layers({"weights": _conv1_1((3, 3, 3, 32)), "name": "conv1_1"}), r"conv1_1 has filters \(3, 3, 3, 32\)"),
    (_small_layers({"weights": _conv1_1(), "name": "fc6"}), r"\('conv1_1'\) is named 'fc6'"),
])
def test_load_params_names_what_is_wrong(tmp_path, contents, message):
    path = tmp_path / "foreign.mat"
    scipy.io.savemat(path, contents)
    with pytest.raises(matconvnet.WeightsFileError, match=message) as caught:
        matconvnet.load_params(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("content", [None, b"", b"this is not a MATLAB file at all" * 10])
def test_load_params_refuses_missing_and_corrupt_files(tmp_path, content):
    path = tmp_path / "imagenet-vgg-verydeep-19.mat"
    if content is not None:
        path.write_bytes(content)
    expected = "no such file" if content is None else "not a readable MATLAB .mat file"
    with pytest.raises(matconvnet.WeightsFileError, match=expected) as caught:
        matconvnet.load_params(path)
    assert str(path) in str(caught.value)


def test_write_params_refuses_wrong_shapes(tmp_path, params):
    conv = dict(params.conv)
    conv["conv2_1"] = (conv["conv2_1"][0][..., :10], conv["conv2_1"][1][:10])
    broken = VGG19Params(conv=conv, fc=params.fc, mean_rgb=params.mean_rgb)
    with pytest.raises(ValueError, match="conv2_1"):
        matconvnet.write_params(tmp_path / "vgg.mat", broken)
    assert not (tmp_path / "vgg.mat").exists()


# --- preprocessing -------------------------------------------------------------------------------

def test_resize_takes_height_then_width():
    image = np.zeros((20, 30, 3), np.uint8)
    assert preprocess.resize_bilinear(image, (7, 11)).shape == (7, 11, 3)


@pytest.mark.parametrize("size", [(224, 224), (96, 130), (400, 500)])
def test_resize_matches_antialiased_bilinear_of_pytorch(size):
    # PyTorch's antialiased bilinear was written to reproduce Pillow's resize: an
    # independent implementation of what scipy.misc.imresize did, up to uint8 rounding.
    torch = pytest.importorskip("torch")
    image = preprocess.load_rgb(preprocess.shipped_image("sample"))
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(image.copy()).permute(2, 0, 1)[None].double(), size=size, mode="bilinear",
        align_corners=False, antialias=True)[0].permute(1, 2, 0).numpy()
    actual = preprocess.resize_bilinear(image, size).astype(np.float64)
    assert np.abs(actual - expected).max() <= 1.0


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK"])
def test_load_rgb_converts_every_mode_to_rgb(tmp_path, mode):
    rgb = np.asarray(Image.open(preprocess.shipped_image("sample")))
    converted = Image.fromarray(rgb).convert(mode)
    path = tmp_path / ("image.jpg" if mode == "CMYK" else "image.png")
    converted.save(path)
    loaded = preprocess.load_rgb(path)
    assert loaded.dtype == np.uint8 and loaded.shape == rgb.shape
    np.testing.assert_array_equal(loaded, np.asarray(Image.open(path).convert("RGB")))
    if mode == "L":
        assert np.array_equal(loaded[..., 0], loaded[..., 2])


@pytest.mark.parametrize("content, message", [
    (None, "no such image file"),
    (b"\x89PNG\r\n\x1a\n but not really", "not a readable image"),
    ("truncated", "not a readable image"),
])
def test_load_rgb_names_the_unreadable_file(tmp_path, content, message):
    path = tmp_path / "cat1.jpg"
    if content == "truncated":
        content = preprocess.shipped_image("sample").read_bytes()[:2000]
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(preprocess.ImageReadError, match=message) as caught:
        preprocess.load_rgb(path)
    assert str(path) in str(caught.value)


def test_network_input_is_nchw_rgb_minus_mean():
    image = np.zeros((2, 3, 3), np.uint8)
    image[1, 2] = (200, 100, 50)
    network = preprocess.to_network_input(image, IMAGENET_MEAN)
    assert network.shape == (1, 3, 2, 3) and network.dtype == np.float32
    np.testing.assert_array_equal(network[0, :, 1, 2], np.float32([200, 100, 50]) - IMAGENET_MEAN)
    np.testing.assert_array_equal(network[0, :, 0, 0], -IMAGENET_MEAN)


def test_network_output_adds_the_mean_clips_and_truncates():
    network = np.zeros((1, 3, 1, 4))
    network[0, 0] = [[-500.0, 10.4, 10.9, 500.0]]
    restored = preprocess.from_network_output(network, (100.0, 0.0, 0.0))
    np.testing.assert_array_equal(restored[0, :, 0], [0, 110, 110, 255])
    assert restored.dtype == np.uint8 and restored.shape == (1, 4, 3)


def test_style_lab_load_and_save_round_trip(tmp_path):
    path = preprocess.shipped_image("content")
    image, original_shape = preprocess.load_image(path, 192, 320, IMAGENET_MEAN)
    assert image.shape == (1, 3, 192, 320) and original_shape == (240, 320, 3)
    output = tmp_path / "output_0.jpg"
    preprocess.save_image(image, original_shape, output, IMAGENET_MEAN)
    saved, original = preprocess.load_rgb(output).astype(float), preprocess.load_rgb(path).astype(float)
    assert saved.shape == original.shape
    assert np.abs(saved - original).mean() < 6.0          # two resamplings, one truncation, one JPEG


# --- shipped images --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, size", [("sample", (300, 200)), ("content", (320, 240)), ("style", (256, 256))])
def test_shipped_images_are_small_and_made_by_the_script(name, size):
    path = preprocess.shipped_image(name)
    assert path.stat().st_size < 60_000
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.mode == "RGB" and image.size == size
    encoded = io.BytesIO()
    Image.fromarray(make_images.to_uint8(make_images.MAKERS[name]())).save(encoded, format="JPEG",
                                                                           quality=make_images.JPEG_QUALITY)
    regenerated = np.asarray(Image.open(encoded)).astype(float)
    # Identical with the same libjpeg; another build may round a few DCT coefficients differently.
    assert np.abs(preprocess.load_rgb(path) - regenerated).mean() < 0.5


def test_unknown_shipped_image_is_refused():
    with pytest.raises(ValueError, match="sample, content, style"):
        preprocess.shipped_image("cat1")


# --- ImageNet classes ------------------------------------------------------------------------------

def test_imagenet_classes_are_the_standard_list():
    entries = classes.imagenet_classes()
    assert len(entries) == 1000
    assert entries[281] == classes.ImageNetClass("n02123045", "tabby, tabby cat")
    assert entries[0].names == "tench, Tinca tinca" and entries[999].names.startswith("toilet tissue")
    # The ILSVRC class order is the WordNet ids sorted.
    ids = [entry.wordnet_id for entry in entries]
    assert ids == sorted(ids) and len(set(ids)) == 1000


def test_top_k_orders_by_probability_and_keeps_ties_stable():
    probabilities = np.full((1, 1000), 0.0001)
    probabilities[0, [281, 5, 7]] = [0.5, 0.2, 0.2]
    top = classes.top_k(probabilities, k=4)
    assert [index for index, _, _ in top] == [281, 5, 7, 0]
    assert top[0] == (281, "tabby, tabby cat", 0.5)


def test_top_k_refuses_a_wrong_shape():
    with pytest.raises(ValueError, match=r"\(2, 1000\)"):
        classes.top_k(np.zeros((2, 1000)))


def test_header_check_accepts_the_layout_and_names_what_is_wrong(weights_file, tmp_path):
    matconvnet.check_header(weights_file)          # the synthetic file has the real file's layout
    other = tmp_path / "other.mat"
    scipy.io.savemat(other, {"layers": np.zeros((1, 3))})
    with pytest.raises(matconvnet.WeightsFileError, match=r"expected 'layers' as a 1x43 cell.*found: layers \(1, 3\)"):
        matconvnet.check_header(other)
    damaged = tmp_path / "damaged.mat"
    damaged.write_bytes(weights_file.read_bytes()[:100])
    with pytest.raises(matconvnet.WeightsFileError, match="not a readable MATLAB .mat file"):
        matconvnet.check_header(damaged)
