"""Package layout (everything else is in pyproject.toml).

The lab specs live at the repository root (specs/), where instructors edit them; in an installed
wheel they are the package data of ``harness._specs``, which harness.spec reads through
importlib.resources. setuptools' declarative configuration cannot add such a mapped package to the
packages it finds, hence this file.
"""
from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["harness", "harness.*", "reference", "reference.*"],
                                     exclude=["*.__pycache__"]) + ["harness._specs"],
    package_dir={"harness._specs": "specs"},
)
