"""Archives as students make them, the package folder found anywhere in them, and a class folder's entries."""
from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness import api, archives
from harness.context import build_context
from harness.errors import HarnessError
from harness.spec import load_spec
from harness.submission import discover_entries, locate_submission

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "submissions" / "aics-exp2-1" / "correct" / "stu_upload"
FILES = {path.name: path.read_bytes() for path in CORRECT.iterdir() if path.is_file() and path.suffix == ".py"}


@pytest.fixture(scope="module")
def spec():
    return load_spec("aics-exp2-1")


@pytest.fixture(scope="module")
def spec31():
    return load_spec("aics-exp3-1")


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return path


def _tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as bundle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return path


def _course_files(prefix: str, separator: str = "/") -> dict[str, bytes]:
    return {f"{prefix}{separator}{name}" if prefix else name: data for name, data in FILES.items()}


def _located(path, spec):
    submission = locate_submission(path, spec)
    try:
        relative = submission.package_dir.relative_to(submission.inner[0] if submission.inner else submission.root)
        return relative.as_posix(), submission.present, submission
    finally:
        submission.cleanup()


@pytest.mark.parametrize("name, members", [
    ("windows.zip", _course_files("stu_upload", "\\")),                     # made on Windows: backslashes
    ("UPPER.ZIP", _course_files("stu_upload")),
    ("deep.zip", _course_files("student_123/exp_2_1/stu_upload")),
    ("flat.zip", _course_files("")),                                        # the files zipped without a folder
    ("drive.zip", _course_files("C:\\Users\\stu\\Desktop\\stu_upload", "\\")),
    ("mac.zip", {**_course_files("stu_upload"), "__MACOSX/stu_upload/._layers_1.py": b"\x00\x05\x16\x07junk",
                 "stu_upload/.DS_Store": b"\x00\x00\x00\x01Bud1", "__MACOSX/._stu_upload": b"junk"}),
])
def test_zips_as_students_make_them(tmp_path, spec, name, members):
    package, present, _ = _located(_zip(tmp_path / name, members), spec)
    assert present == {"layers_1.py"}
    assert package.endswith("stu_upload") or name == "flat.zip"


@pytest.mark.parametrize("name, mode", [("a.tar.gz", "w:gz"), ("a.tgz", "w:gz"), ("a.tar", "w"),
                                        ("a.tar.bz2", "w:bz2"), ("A.TAR.XZ", "w:xz")])
def test_tar_archives(tmp_path, spec, name, mode):
    package, present, _ = _located(_tar(tmp_path / name, _course_files("hw/stu_upload"), mode), spec)
    assert (package, present) == ("hw/stu_upload", {"layers_1.py"})


def test_gbk_member_names_from_chinese_windows_zip_tools_are_decoded(tmp_path, spec):
    """Names in GBK without the UTF-8 flag (zipfile reads them as cp437) come out in Chinese."""
    folder = "作业二".encode("gbk")
    placeholder = b"Q" * len(folder)
    path = _zip(tmp_path / "gbk.zip", {f"{placeholder.decode()}/stu_upload/{name}": data
                                        for name, data in FILES.items()})
    path.write_bytes(path.read_bytes().replace(placeholder, folder))
    with zipfile.ZipFile(path) as bundle:
        assert not bundle.infolist()[0].flag_bits & 0x800
    unpacked = archives.unpack(path)
    try:
        assert [entry.name for entry in unpacked.iterdir()] == ["作业二"]
    finally:
        shutil.rmtree(unpacked)
    assert _located(path, spec)[:2] == ("作业二/stu_upload", {"layers_1.py"})


def test_a_zip_inside_the_zip_and_a_folder_holding_its_upload(tmp_path, spec):
    inner = _zip(tmp_path / "inner.zip", _course_files("stu_upload"))
    outer = _zip(tmp_path / "outer.zip", {"submission/inner.zip": inner.read_bytes(), "readme.txt": b"hi"})
    package, present, submission = _located(outer, spec)
    assert (package, present) == ("stu_upload", {"layers_1.py"})
    assert all(not path.exists() for path in submission.temporary + [submission.root])      # cleaned up
    folder = tmp_path / "张三"
    folder.mkdir()
    shutil.copy(inner, folder / "作业.zip")
    package, present, submission = _located(folder, spec)
    assert (package, present) == ("stu_upload", {"layers_1.py"})
    assert folder.is_dir() and not submission.temporary[0].exists()


def test_the_folder_with_most_of_the_files_wins_then_the_one_named_stu_upload(tmp_path, spec31):
    files = {"layers_1.py": b"", "layers_2.py": b"", "vgg_cpu.py": b""}
    root = tmp_path / "s"
    for folder, names in (("backup", ["layers_1.py"]), ("work/stu_upload", list(files)), ("other", list(files))):
        for name in names:
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / folder / name).write_bytes(b"")
    assert _located(root, spec31)[:2] == ("work/stu_upload", set(files))


@pytest.mark.parametrize("member", ["../evil.py", "stu_upload/../../evil.py", "..\\..\\evil.py"])
def test_members_that_climb_out_make_the_archive_refused(tmp_path, spec, member):
    path = _zip(tmp_path / "evil.zip", {member: b"x", **_course_files("stu_upload")})
    with pytest.raises(HarnessError, match="points outside the archive"):
        locate_submission(path, spec)
    assert not (tmp_path / "evil.py").exists()


def test_absolute_member_names_are_read_as_relative(tmp_path, spec):
    path = _tar(tmp_path / "abs.tar", {f"/tmp/stu_upload/{name}": data for name, data in FILES.items()}, "w")
    assert _located(path, spec)[:2] == ("tmp/stu_upload", {"layers_1.py"})


def test_links_and_devices_in_a_tar_are_left_out(tmp_path, spec):
    path = tmp_path / "links.tar"
    with tarfile.open(path, "w") as bundle:
        for name, data in FILES.items():
            info = tarfile.TarInfo(f"stu_upload/{name}")
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
        for kind, name in ((tarfile.SYMTYPE, "passwd"), (tarfile.LNKTYPE, "hard"), (tarfile.CHRTYPE, "null"),
                           (tarfile.FIFOTYPE, "fifo")):
            info = tarfile.TarInfo(f"stu_upload/{name}")
            info.type, info.linkname = kind, "/etc/passwd"
            bundle.addfile(info)
    unpacked = archives.unpack(path)
    try:
        assert sorted(entry.name for entry in (unpacked / "stu_upload").iterdir()) == sorted(FILES)
    finally:
        shutil.rmtree(unpacked)


def test_a_symlink_stored_by_a_unix_zip_is_left_out(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        info = zipfile.ZipInfo("stu_upload/layers_1.py")
        info.create_system, info.external_attr = 3, (0o120777 << 16)
        bundle.writestr(info, "/etc/passwd")
        bundle.writestr("stu_upload/ok.py", "x = 1\n")
    unpacked = archives.unpack(path)
    try:
        assert sorted(entry.name for entry in (unpacked / "stu_upload").iterdir()) == ["ok.py"]
    finally:
        shutil.rmtree(unpacked)


def test_size_and_member_limits_hold_whatever_the_headers_claim(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "MAX_UNPACKED_BYTES", 10_000)
    bomb = _zip(tmp_path / "bomb.zip", {"stu_upload/big.py": b"0" * 50_000})
    with pytest.raises(archives.ArchiveError, match="more than the 0 MB allowed"):
        archives.unpack(bomb)
    monkeypatch.setattr(archives, "MAX_MEMBERS", 5)
    many = _tar(tmp_path / "many.tgz", {f"f{index}.py": b"" for index in range(10)})
    with pytest.raises(archives.ArchiveError, match="more than 5 members"):
        archives.unpack(many)
    assert not list(Path(tmp_path).glob("harness-zip-*"))


@pytest.mark.parametrize("name, data, words", [
    ("damaged.zip", b"PK\x03\x04 not really", "not a readable .zip file"),
    ("damaged.tar.gz", b"\x1f\x8b garbage", "not a readable tar archive"),
    ("upload.rar", b"Rar!\x1a\x07\x00", "a .rar archive: the harness reads .zip, .tar, .tar.gz, .tgz, .tar.bz2, .tbz2, .tar.xz, .txz"),
    ("layers_1.py", b"x = 1\n", "not a folder or an archive"),
])
def test_unreadable_archives_and_stray_files_say_why(tmp_path, spec, name, data, words):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(HarnessError, match=words):
        locate_submission(path, spec)


def test_missing_file_says_where_the_harness_looked_and_what_it_found(tmp_path, spec31):
    root = tmp_path / "s"
    (root / "code").mkdir(parents=True)
    (root / "code" / "main.py").write_text("")
    (root / "report.pdf").write_bytes(b"%PDF")
    submission = locate_submission(root, spec31)
    message = submission.missing_file("layers_1.py")
    assert f"no folder in {root.resolve()} holds any of layers_1.py, layers_2.py, vgg_cpu.py" in message
    assert "it has report.pdf, code/main.py" in message


def test_a_required_file_is_never_suggested_as_the_name_of_another(tmp_path, spec31):
    package = tmp_path / "s" / "stu_upload"
    package.mkdir(parents=True)
    for name in ("layers_2.py", "vgg_cpu.py"):
        (package / name).write_text("")
    submission = locate_submission(tmp_path / "s", spec31)
    message = submission.missing_file("layers_1.py")
    assert message == "layers_1.py is missing from the submission (s/stu_upload/ holds layers_2.py, vgg_cpu.py)"
    (package / "layer_1.py").write_text("")
    assert submission.missing_file("layers_1.py").endswith("; found layer_1.py: the course's file name is layers_1.py")


def test_discover_entries_lists_every_entry_with_its_status(tmp_path):
    root = tmp_path / "class"
    root.mkdir()
    for name in ("张三", "alice smith", "alice_smith", "Bob"):
        shutil.copytree(CORRECT, root / name / "stu_upload")
    _zip(root / "STUDENT1.ZIP", _course_files("stu_upload"))
    _tar(root / "tar_student.tar.gz", _course_files("stu_upload"))
    (root / "broken.zip").write_bytes(b"PK\x03\x04 truncated")
    (root / "upload.7z").write_bytes(b"7z\xbc\xaf")
    (root / "README.txt").write_text("exported from the course site\n")
    (root / "empty").mkdir()
    (root / "__MACOSX").mkdir()
    (root / ".DS_Store").write_bytes(b"\x00")
    entries = {entry.id: entry for entry in discover_entries(root)}
    assert set(entries) == {"张三", "alice smith", "alice_smith", "Bob", "STUDENT1.ZIP", "tar_student.tar.gz",
                            "broken.zip", "upload.7z", "README.txt", "empty", "__MACOSX", ".DS_Store"}
    gradable = {name for name, entry in entries.items() if entry.status == "gradable"}
    assert gradable == {"张三", "alice smith", "alice_smith", "Bob", "STUDENT1.ZIP", "tar_student.tar.gz"}
    assert entries["broken.zip"].status == entries["upload.7z"].status == "unreadable"
    assert "not a readable .zip file" in entries["broken.zip"].reason
    assert entries["README.txt"].status == "skipped" and "not a folder or an archive" in entries["README.txt"].reason
    assert entries["empty"].reason == "an empty folder"
    assert all(entry.reason for entry in entries.values() if entry.status != "gradable")
    assert entries["张三"].path == root / "张三"


@pytest.fixture(scope="module")
def exp2_context(spec):
    return build_context(spec)


@pytest.mark.parametrize("make", ["windows", "nested", "tar-deep"])
def test_check_grades_archives_end_to_end(tmp_path, exp2_context, make):
    if make == "windows":
        path = _zip(tmp_path / "HW.ZIP", _course_files("stu_upload", "\\"))
    elif make == "nested":
        inner = _zip(tmp_path / "inner.zip", _course_files("stu_upload"))
        path = _zip(tmp_path / "outer.zip", {"X/inner.zip": inner.read_bytes(), "__MACOSX/X/._inner.zip": b"j"})
    else:
        path = _tar(tmp_path / "hw.tgz", _course_files("2021/exp/张三/stu_upload"))
    result = api.check(path, context=exp2_context, only=["relu.forward"])
    assert result.check("relu.forward").status == "pass", result.check("relu.forward").message
