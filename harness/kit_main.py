# -*- coding: utf-8 -*-
"""The entry point of a student kit's check.pyz (copied into the archive as __main__.py).

It runs under whatever `python` a student types, so it is written to parse on Python 2.7 too and
says plainly what is missing (Python 3.9+, NumPy) instead of failing with a syntax error. Then it
unpacks the archive into a private temporary folder, removed at exit (the engine reads its own
sources there: the sandbox sends the child's code over a pipe), and runs harness.kitcheck.
"""
import os
import sys

MINIMUM_PYTHON = (3, 9)


def _stop(message):
    sys.stderr.write("check.pyz: error: " + message + "\n")
    sys.exit(2)


def _archive():
    archive = getattr(globals().get("__loader__"), "archive", None)       # zipimport's loader knows its file
    return archive or os.path.dirname(os.path.abspath(__file__))


def main():
    if sys.version_info[:2] < MINIMUM_PYTHON:
        _stop("this kit needs Python %d.%d or newer with NumPy; this is Python %d.%d (%s). "
              "Run it with python3: python3 check.pyz ." % (MINIMUM_PYTHON + tuple(sys.version_info[:2])
                                                              + (sys.executable,)))
    try:
        import numpy  # noqa: F401
    except ImportError:
        _stop("this kit needs NumPy: install it with `%s -m pip install numpy`" % sys.executable)
    import shutil
    import tempfile
    import zipfile

    archive = _archive()
    workdir = tempfile.mkdtemp(prefix="nnlab-kit-")
    try:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(workdir)
        sys.path[:] = [workdir] + [entry for entry in sys.path if os.path.abspath(entry or ".") != archive]
        from harness import kitcheck
        code = kitcheck.main(sys.argv[1:], os.path.join(workdir, "kit"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
