"""Batch grading: a submission that cannot even be opened costs its own row, never the batch, and
archives are unpacked into temporary folders that do not outlive their check."""
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from harness import api
from harness.batch.layout import folder_name

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "submissions" / "aics-exp2-1" / "correct"


def _damaged_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("stu_upload/layers_1.py", "x = 1\n" * 200, compress_type=zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    data[-40:-20] = bytes(20)                    # break the central directory
    path.write_bytes(data)


def _unpacked_dirs() -> set[str]:
    return {path.name for path in Path(tempfile.gettempdir()).glob("harness-zip-*")}


def test_a_damaged_archive_does_not_stop_the_batch(tmp_path):
    lab_dir = tmp_path / "class" / "aics-exp2-1"
    lab_dir.mkdir(parents=True)
    shutil.copytree(CORRECT, lab_dir / "alice")
    _damaged_zip(lab_dir / "bob.zip")
    shutil.make_archive(str(lab_dir / "carol"), "zip", CORRECT.parent, CORRECT.name)
    before = _unpacked_dirs()

    graded = api.grade(tmp_path / "class", tmp_path / "out")

    scores = {item.name: item.result.score for item in graded}
    assert scores == {"alice": 100, "bob.zip": 0, "carol.zip": 100}
    bob_dir = tmp_path / "out" / "aics-exp2-1" / folder_name("bob.zip")
    bob = json.loads((bob_dir / "result.json").read_text())
    assert "not a readable .zip file" in bob["error"]
    assert {check["status"] for check in bob["checks"]} == {"error"}
    assert (bob_dir / "report.html").is_file()
    assert {item.name: item.status for item in graded}["bob.zip"] == "unreadable"
    assert _unpacked_dirs() <= before            # carol's unpacked copy is gone
