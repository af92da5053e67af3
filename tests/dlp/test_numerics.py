"""The DLP arithmetic: quantization as cnml.h defines it, exact int8 products, and what SWIG accepts."""
import numpy as np
import pytest

from harness.dlp import numerics as nx
from harness.dlp.quant import position_scale


def test_course_quantization_files_follow_the_absmax_rule():
    # vgg19_quant_param_new.npz's first input pair is the largest mean-subtracted pixel, 255 - 103.939;
    # mnist_mlp_quant_param.npz's is a raw pixel, 255 (SeanLi-OI/AI-Computing-System-Lab, Lab1 and Lab2).
    # The course took the maximum of float32 data: the file's scale is ours to the float32 ulp (1.2e-7).
    assert position_scale(np.float32(255 - 103.939)) == (1, pytest.approx(1.6814398765563965, abs=1e-9))
    assert position_scale(255 - 103.939) == (1, pytest.approx(1.6814398765563965, abs=1.2e-7))
    assert position_scale(255.0) == (2, pytest.approx(1.9921568632125854, abs=1e-7))


@pytest.mark.parametrize("absmax", [1e-6, 0.3, 1.0, 127.0, 127.0001, 254.0, 1e4])
def test_position_scale_maps_absmax_to_code_127_and_scale_in_1_2(absmax):
    position, scale = position_scale(absmax)
    assert 1.0 <= scale < 2.0 + 1e-6
    assert nx.quantize(np.array([absmax, -absmax]), position, scale).tolist() == [127.0, -127.0]


def test_position_scale_of_an_all_zero_tensor():
    assert position_scale(0.0) == (0, 1.0)


def test_quantize_rounds_half_to_even_and_saturates():
    # step 1: position 0, scale 1
    codes = nx.quantize(np.array([0.5, 1.5, 2.5, -0.5, -1.5, 126.6, 300.0, -300.0]), 0, 1.0)
    assert codes.tolist() == [0, 2, 2, -0, -2, 127, 127, -128]


def test_quantize_int8_matches_quantize_and_rounds_through_float16_when_asked():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 0.05, size=10_001)
    assert np.array_equal(nx.quantize_int8(values, -7, 1.3, chunk=1000), nx.quantize(values, -7, 1.3))
    through = nx.quantize_int8(values, -7, 1.3, through_fp16=True, chunk=999)
    assert np.array_equal(through, nx.quantize(values.astype(np.float16), -7, 1.3))
    assert through.dtype == np.int8


def test_dequantize_is_fix_times_2_to_the_position_over_scale():
    assert nx.dequantize(np.array([64]), -3, 1.25) == pytest.approx(64 * 2 ** -3 / 1.25)


def _codes(rng, shape):
    return rng.integers(-128, 128, size=shape).astype(np.float32)


@pytest.mark.parametrize("cin,stride,pad,dilation,kernel", [
    (3, 1, 1, 1, 3), (5, 2, 0, 1, 3), (2, 1, 2, 2, 3), (4, 3, 1, 1, 2), (600, 1, 1, 1, 3)])
def test_exact_conv_equals_the_plain_loops(cin, stride, pad, dilation, kernel):
    rng = np.random.default_rng(cin + stride)
    size = 5 if cin > 100 else 9
    x = _codes(rng, (2, size, size + 1, cin))
    weight = rng.integers(-128, 128, size=(kernel, kernel, cin, 3)).astype(np.int8)
    fast = nx.conv2d_nhwc(x, weight, stride, pad, dilation)
    assert np.array_equal(fast, nx.conv2d_nhwc_loops(x, weight, stride, pad, dilation))


def test_exact_products_stay_exact_where_one_float32_gemm_would_round():
    # 4608 products of -128 * -128 sum to 75497472 > 2^24: one float32 dot product would round it
    a = np.full((1, 4608), -128, dtype=np.float32)
    b = np.full((2, 4608), -128, dtype=np.int8)          # [out, in], as pycnml stores an MLP filter
    assert nx.int_matmul(a, b).tolist() == [[4608 * 16384] * 2]
    a[0, 0] = -127
    assert nx.int_matmul(a, b)[0, 0] == 4608 * 16384 - 128


def test_maxpool_floor_output_and_windows():
    x = np.arange(2 * 5 * 7 * 3, dtype=np.float32).reshape(2, 5, 7, 3)
    out = nx.maxpool_nhwc(x, 2, 2)
    assert out.shape == (2, 2, 3, 3)
    assert np.array_equal(out[0, 1, 2], x[0, 3, 5])


class TestWhatSwigAccepts:
    def test_float64_arrays_lists_and_integers(self):
        assert nx.float_vector(np.arange(3.0), "m", 2, "t").dtype == np.float32
        assert nx.float_vector([1, 2.5, True], "m", 2, "t").tolist() == [1.0, 2.5, 1.0]
        assert nx.float_vector(np.arange(3), "m", 2, "t").tolist() == [0.0, 1.0, 2.0]
        assert nx.float_vector((0.1,), "m", 2, "t").tolist() == [np.float32(0.1)]

    @pytest.mark.parametrize("value,why", [
        (np.zeros(3, dtype=np.float32), "numpy.float32"),
        (np.zeros((2, 3)), "flatten it first"),
        (np.float64(1.0), "not a sequence"),
        ((x for x in range(3)), "not a sequence"),
        ("123", "not a sequence"),
        (np.array([1e39]), "float32's range"),
        (np.zeros(2, dtype=bool), "numpy.bool_"),
    ])
    def test_refusals_name_the_method_argument_and_reason(self, value, why):
        with pytest.raises(nx.ArgumentError, match=r"in method 'CnmlNet_loadParams', argument 3 of type "
                                                   r"'vector< float >'") as raised:
            nx.float_vector(value, "CnmlNet_loadParams", 3, "vector< float >")
        assert why in str(raised.value)

    def test_int_and_float_arguments(self):
        assert nx.int_argument(np.int64(3), "m", 2) == 3
        with pytest.raises(nx.ArgumentError, match="of type 'int'"):
            nx.int_argument(3.0, "m", 2)
        assert nx.float_argument(np.float64(0.1), "m", 2) == float(np.float32(0.1))
        with pytest.raises(nx.ArgumentError, match="of type 'float'"):
            nx.float_argument(np.float32(0.1), "m", 2)
