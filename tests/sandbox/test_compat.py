"""The legacy shims behave like the removed functions (checked here in-process; the child uses the same module)."""
from __future__ import annotations

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
    with pytest.raises(AttributeError, match=r"scipy.misc.imfilter was removed in SciPy 1.3.0"):
        misc.imfilter


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
