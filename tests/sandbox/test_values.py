"""What a returned value becomes on the wire: an array in its own dtype, or a marker with the type's name."""
from __future__ import annotations

import numpy as np
import pytest

from harness.sandbox.values import to_wire


@pytest.mark.parametrize("value, dtype, type_name", [
    (np.arange(6, dtype=np.float32).reshape(2, 3), np.float32, "ndarray"),
    (np.asmatrix(np.eye(2)), np.float64, "matrix"),
    (np.float64(2.5), np.float64, "float64"),
    (np.int8(-3), np.int8, "int8"),
    (True, np.bool_, "bool"),
    (3, np.int_, "int"),
    (2.5, np.float64, "float"),
    (1 + 2j, np.complex128, "complex"),
    ([1.0, 2.0, 3.0], np.float64, "list"),
    (((1, 2), (3, 4)), np.int_, "tuple"),
])
def test_numbers_and_numeric_sequences_become_arrays(value, dtype, type_name):
    array, description = to_wire(value)
    assert type(array) is np.ndarray and array.dtype == dtype
    np.testing.assert_array_equal(array, np.asarray(value))
    assert description == {"array": True, "type": type_name}


@pytest.mark.parametrize("value, type_name, detail", [
    ({"a": 1}, "dict", ""),
    ("relu", "str", ""),
    ([np.zeros(2), np.zeros(3)], "list", "not convertible"),
    ([object(), object()], "list", "dtype object"),
    (np.array([None, 1]), "ndarray", "dtype object"),
    (np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]), "ndarray", "dtype"),
    (10 ** 30, "int", "dtype object"),
])
def test_everything_else_is_unsupported_with_its_type_name(value, type_name, detail):
    array, description = to_wire(value)
    assert array is None
    assert description["returned"] == "unsupported" and description["type"] == type_name
    assert detail in description["detail"]


def test_none_is_its_own_marker():
    assert to_wire(None) == (None, {"returned": "none", "type": "NoneType"})
