"""The similarity report finds a copy whatever its names, formatting and Python version, does not flag
different code, compares with known public solutions, and is a verb and a flag of grade."""
from __future__ import annotations

import re
import shutil

import pytest

from batch_helpers import CORRECT, LAB, REPOSITORY, copy_submission
from harness import api, cli

pytest.importorskip("copydetect", reason="copydetect is the similarity extra")


def _disguised_python2_copy(target):
    """The correct code renamed, re-indented with tabs and given Python 2 print statements."""
    copy_submission(CORRECT, target)
    source = target / "stu_upload" / "layers_1.py"
    text = source.read_text()
    for old, new in (("self.input", "self.x_in"), ("top_diff", "grad_out"), ("bottom_diff", "grad_in"),
                     ("num_input", "n_in"), ("num_output", "n_out")):
        text = text.replace(old, new)
    text = re.sub(r"print\('([^']*)'( % \(([^)]*)\))?\)",
                  lambda m: f"print '{m.group(1)}'" + (f" % ({m.group(3)})" if m.group(3) else ""), text)
    source.write_text(text.replace("    ", "\t"))
    return target


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("similarity")
    root, known = base / "class", base / "known"
    copy_submission(CORRECT, root / "alice")
    _disguised_python2_copy(root / "bob")
    carol = root / "carol" / "stu_upload"                  # different code: the reference's course-layout module
    carol.mkdir(parents=True)
    shutil.copy(REPOSITORY / "reference" / "aics" / "layers_1.py", carol / "layers_1.py")
    (root / "notes.txt").write_text("not a submission\n")
    copy_submission(CORRECT, known / "blog-2019")
    return base, root, known


def test_a_disguised_python2_copy_is_found_and_different_code_is_not(folders):
    base, root, known = folders
    report = api.similarity(root, base / "out", lab=LAB, known=known)
    pairs = {(pair.a.id, pair.b.id, pair.b.known): pair for pair in report.pairs}
    assert ("alice", "bob", False) in pairs and pairs["alice", "bob", False].score > 0.9
    assert ("alice", "blog-2019", True) in pairs and ("bob", "blog-2019", True) in pairs
    assert not any("carol" in (pair.a.id, pair.b.id) for pair in report.pairs)
    bob = next(document for document in report.documents if document.id == "bob")
    assert bob.python == "2.7" and "print(" in bob.text                  # compared as translated
    page = (base / "out" / "similarity.html").read_text(encoding="utf-8")
    assert "<mark>" in page and "known: blog-2019" in page and "Python 2.7 code" in page
    assert "carol" not in re.sub(r"<[^>]+>", "", page.split("<h2>Pairs</h2>")[1])


def test_known_solutions_are_not_compared_with_each_other(folders, tmp_path):
    base, root, known = folders
    two_known = tmp_path / "known"
    shutil.copytree(known, two_known)
    copy_submission(CORRECT, two_known / "blog-2020")
    report = api.similarity(root, tmp_path / "out", lab=LAB, known=two_known)
    assert not any(pair.a.known and pair.b.known for pair in report.pairs)


def test_similarity_is_a_verb_and_a_flag_of_grade(folders, tmp_path, capsys):
    base, root, known = folders
    assert cli.main(["similarity", str(root), "--lab", LAB, "--out", str(tmp_path / "verb")]) == 0
    assert "alice  ~  bob" in capsys.readouterr().out
    only_two = tmp_path / "two"
    shutil.copytree(root / "alice", only_two / "alice")
    shutil.copytree(root / "bob", only_two / "bob")
    assert cli.main(["grade", str(only_two), "--lab", LAB, "--out", str(tmp_path / "graded"), "--similarity",
                     "--known", str(known), "--progress", "off"]) == 0
    printed = capsys.readouterr().out
    assert "share at least 50% of their code" in printed and "similarity.html" in printed
    assert (tmp_path / "graded" / "similarity.html").is_file()
