"""Fixtures for the sandbox tests: write a submission, open a session on it.

Every submission written here includes ``honest.py``; ``sandbox_helpers.assert_still_serves``
runs it to show that a session survives whatever the previous request did.
"""
from __future__ import annotations

import textwrap

import pytest

from harness.sandbox import Limits, SandboxConfig, Session

HONEST = """
import numpy as np

def double(x):
    return 2 * x
"""


@pytest.fixture
def submission(tmp_path):
    """write(**files) -> the package directory; str values are dedented source, bytes are written as is."""
    package = tmp_path / "stu_upload"
    package.mkdir()

    def write(**files) -> object:
        for name, content in {"honest.py": HONEST, **files}.items():
            data = content if isinstance(content, bytes) else textwrap.dedent(content).encode()
            path = package / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return package
    return write


@pytest.fixture
def open_session():
    """open_session(package_dir, limits={...}, **config) -> an open Session, closed after the test."""
    sessions = []

    def open_(package_dir, limits=None, **options) -> Session:
        config = SandboxConfig(submission_dir=package_dir, limits=Limits(**{"wall_time": 20.0, **(limits or {})}),
                               **options)
        session = Session(config)
        session.open()
        sessions.append(session)
        return session
    yield open_
    for session in sessions:
        session.close()
