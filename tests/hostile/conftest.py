"""Fixtures of the hostile suite (the submissions themselves: hostile_helpers.py)."""
from __future__ import annotations

import pytest

from hostile_helpers import write_submission


@pytest.fixture
def attack_dir(tmp_path):
    def make(folder: str, attack: str, **values) -> "Path":
        return write_submission(tmp_path, folder, attack, **values)
    return make
