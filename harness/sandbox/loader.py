"""How the child imports the submission: both of the course's import styles, one module per file.

The scratch copy is the package ``<package>/`` under the scratch root, which
is on sys.path, so ``from .layers_1 import X`` and ``import stu_upload.layers_1``
work as usual. The older implicit style, ``from layers_1 import X``, is served
by a meta-path finder: a top-level name that is one of the submission's
modules is imported as ``<package>.<name>`` and the same module object is
bound to both names, so a class has one identity whichever way it was imported.

Files the parent planned (a Python 2 file, translated, or a file Python 3
would not decode; see harness.era and classic.py) are loaded by
``_PlannedLoader`` from the plan's text, compiled once per child; every other
file by Python's own loader.

This module is sent to the child: standard library only.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys


def _stdlib_names() -> frozenset:
    """The standard library's top-level module names: sys.stdlib_module_names from Python 3.10; the
    student kit also runs on 3.9, where the stdlib directory is listed instead. Computed when this
    module loads, never from inside the import hook (listing imports modules itself)."""
    names = getattr(sys, "stdlib_module_names", None)
    if names is None:
        import pkgutil
        import sysconfig
        stdlib = sysconfig.get_paths()["stdlib"]
        names = {module.name for module in pkgutil.iter_modules([stdlib, os.path.join(stdlib, "lib-dynload")])}
        names |= set(sys.builtin_module_names)
    return frozenset(names)


STDLIB_NAMES = _stdlib_names()


class SubmissionModules:
    """The submission package's modules: importing them, their aliases, forgetting them between requests."""

    def __init__(self, package: str, package_dir: str, refused: dict[str, str], python: dict | None = None,
                 classic=None):
        self.package = package
        self.package_dir = package_dir
        self.refused = refused                  # file name -> why it was not copied into the scratch dir
        self.python = python if isinstance(python, dict) else {}   # the era's plan (harness.era)
        self.classic = classic                  # the classic module (sent to the child beside this one)

    def install(self) -> None:
        sys.meta_path.insert(0, _ImplicitImports(self))
        files = self.python.get("files")
        if files and self.classic is not None:
            sources = self.classic.Sources(files, self.package_dir)
            if sources.translates:
                self.classic.install_library_names()
            sys.meta_path.insert(0, _PlannedFiles(self.package, sources, self.classic))

    def is_module(self, name: str) -> bool:
        """Whether ``name`` (no dots) is a module or subpackage of the submission.

        A submission's random.py or copy.py does not shadow the standard library's for
        numpy and friends: it stays importable as <package>.random only.
        """
        if name == self.package or not name.isidentifier() or name in STDLIB_NAMES:
            return False
        return (os.path.isfile(os.path.join(self.package_dir, name + ".py"))
                or os.path.isfile(os.path.join(self.package_dir, name, "__init__.py")))

    def import_module(self, name: str):
        """The submission's module ``name`` (e.g. "layers_2"), imported as <package>.<name>."""
        if not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"{name!r} is not a module name")
        file_name = name.replace(".", "/") + ".py"
        if file_name in self.refused:
            raise ImportError(f"{file_name} was not loaded: {self.refused[file_name]}", name=name)
        return importlib.import_module(f"{self.package}.{name}")

    def is_missing(self, error: ImportError, name: str) -> bool:
        """Whether an import of ``name`` failed because the file itself is absent (not something it imports)."""
        return isinstance(error, ModuleNotFoundError) and error.name in (f"{self.package}.{name}", self.package)

    def present(self) -> list[str]:
        return sorted(entry for entry in os.listdir(self.package_dir) if entry.endswith(".py"))

    def forget(self) -> None:
        """Drop the package, its modules and their implicit aliases from sys.modules (the next import re-runs them)."""
        prefix = self.package + "."
        for name, module in list(sys.modules.items()):
            module_name = getattr(module, "__name__", None)
            if name == self.package or name.startswith(prefix) or (
                    isinstance(module_name, str) and module_name.startswith(prefix) and "." not in name):
                del sys.modules[name]


class _ImplicitImports:
    """Meta-path finder and loader: ``import layers_1`` -> the module ``<package>.layers_1``."""

    def __init__(self, modules: SubmissionModules):
        self.modules = modules
        self.own_specs: dict = {}

    def find_spec(self, fullname, path=None, target=None):
        if "." in fullname or not self.modules.is_module(fullname):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, origin=f"alias of {self.modules.package}.{fullname}")

    def create_module(self, spec):
        module = importlib.import_module(f"{self.modules.package}.{spec.name}")
        self.own_specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):
        # importlib has just replaced the module's __spec__ with the alias's; give it its own back
        own = self.own_specs.pop(module.__spec__.name, None)
        if own is not None:
            module.__spec__ = own


class _PlannedFiles:
    """Meta-path finder: the submission's planned files get ``_PlannedLoader``; the rest is left to Python."""

    def __init__(self, package: str, sources, classic):
        self.package, self.sources, self.classic = package, sources, classic

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.package and not fullname.startswith(self.package + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        entry = self.sources.entry(spec.origin)
        if entry is not None:
            spec.loader = _PlannedLoader(fullname, spec.origin, self.sources, entry, self.classic)
        return spec


class _PlannedLoader(importlib.machinery.SourceFileLoader):
    """Runs a planned file: the code compiled from the plan (no bytecode cache), Python 2 builtins if translated."""

    def __init__(self, fullname, path, sources, entry: dict, classic):
        super().__init__(fullname, path)
        self.sources, self.entry, self.classic = sources, entry, classic

    def get_code(self, fullname):
        return self.sources.code(self.path, self.entry)

    def get_source(self, fullname):
        return self.sources.original(self.path, self.entry)

    def exec_module(self, module):
        if "division" in self.entry:
            module.__builtins__ = self.classic.python2_builtins()
        super().exec_module(module)
