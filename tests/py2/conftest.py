"""The real Python 2.7 oracle as a fixture (see py2_helpers.py); without one, the tests that need it skip."""
from __future__ import annotations

import pytest

from py2_helpers import python27_with_numpy


@pytest.fixture(scope="session")
def python27() -> str:
    interpreter, why = python27_with_numpy()
    if interpreter is None:
        pytest.skip(why)
    return interpreter
