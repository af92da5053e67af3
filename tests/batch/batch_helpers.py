"""A class folder as an instructor receives it, built from the exp 2-1 examples (about 1-3 s per submission).

Chinese folder names, names differing only by a space and an underscore or by case, an upper-case .ZIP,
a zip made on Windows (backslashes), a zip three levels deep, a .tar.gz, a damaged zip, a stray README,
an empty folder, and a submission that crashes its interpreter at import.
"""
from __future__ import annotations

import shutil
import sqlite3
import tarfile
import zipfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = REPOSITORY / "submissions" / "aics-exp2-1"
CORRECT, NO_BIAS_GRAD, RELU_WRONG = EXAMPLES / "correct", EXAMPLES / "fc-no-bias-grad", EXAMPLES / "relu-backward-wrong"
LAB = "aics-exp2-1"
IGNORED = shutil.ignore_patterns("__pycache__", "EXPECT*", "*.pyc")

# id -> (score, status) every grading of the class folder must give
EXPECTED = {
    "张三": (100.0, "graded"),
    "李四": (70.0, "graded"),
    "alice smith": (100.0, "graded"),
    "alice_smith": (70.0, "graded"),
    "Bob": (100.0, "graded"),
    "bob": (70.0, "graded"),
    "STUDENT1.ZIP": (100.0, "graded"),
    "win_student.zip": (100.0, "graded"),
    "deep_student.zip": (100.0, "graded"),
    "tar_student.tar.gz": (100.0, "graded"),
    "damaged.zip": (0.0, "unreadable"),
    "segfault": (0.0, "graded"),
}
NOT_GRADED = {"README.txt", "empty"}


def copy_submission(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=IGNORED)
    return target


def build_class(root: Path, ids: list[str] | None = None) -> Path:
    """The class folder in ``root`` (every entry of EXPECTED and NOT_GRADED, or only ``ids``)."""
    root.mkdir(parents=True, exist_ok=True)
    wanted = set(ids) if ids is not None else set(EXPECTED) | NOT_GRADED
    upload = CORRECT / "stu_upload"
    makers = {
        "张三": lambda path: copy_submission(CORRECT, path),
        "李四": lambda path: copy_submission(NO_BIAS_GRAD, path),
        "alice smith": lambda path: copy_submission(CORRECT, path),
        "alice_smith": lambda path: copy_submission(NO_BIAS_GRAD, path),
        "Bob": lambda path: copy_submission(CORRECT, path),
        "bob": lambda path: copy_submission(NO_BIAS_GRAD, path),
        "STUDENT1.ZIP": lambda path: _zip(path, {f"stu_upload/{f.name}": f.read_bytes() for f in _files(upload)}),
        "win_student.zip": lambda path: _zip(path, {f"stu_upload\\{f.name}": f.read_bytes() for f in _files(upload)}),
        "deep_student.zip": lambda path: _zip(path, {f"student_123/exp_2_1/stu_upload/{f.name}": f.read_bytes()
                                                     for f in _files(upload)}),
        "tar_student.tar.gz": lambda path: _tar(path, upload),
        "damaged.zip": _damaged_zip,
        "segfault": _segfault,
        "README.txt": lambda path: path.write_text("submissions exported from the course site\n"),
        "empty": lambda path: path.mkdir(),
    }
    for name, make in makers.items():
        if name in wanted:
            make(root / name)
    return root


def _files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if path.is_file() and not path.name.endswith(".pyc"))


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)


def _tar(path: Path, upload: Path) -> None:
    with tarfile.open(path, "w:gz") as bundle:
        for file in _files(upload):
            bundle.add(file, arcname=f"stu_upload/{file.name}")


def _damaged_zip(path: Path) -> None:
    _zip(path, {"stu_upload/layers_1.py": b"x = 1\n" * 200})
    data = bytearray(path.read_bytes())
    data[-40:-20] = bytes(20)                    # the central directory broken
    path.write_bytes(data)


def _segfault(path: Path) -> None:
    copy_submission(CORRECT, path)
    source = path / "stu_upload" / "layers_1.py"
    source.write_text("import ctypes\nctypes.string_at(0)   # crashes the interpreter at import\n" + source.read_text())


def graded_log(store: Path) -> dict[str, int]:
    """id -> how many gradings the store's log holds (read-only, while a grader may still write)."""
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        return dict(connection.execute("SELECT id, COUNT(*) FROM graded GROUP BY id"))
    except sqlite3.OperationalError:             # the schema is not there yet
        return {}
    finally:
        connection.close()
