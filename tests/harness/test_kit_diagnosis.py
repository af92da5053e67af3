"""A student kit and the grader name the same mistake for the same case (harness/kitcheck.py, harness/diagnose.py).

A kit holds no reference, so `harness kit` stores what each catalogued mistake computes on the kit's cases
(kitcheck.mistake_arrays); the kit matches a failed output against those exactly as the grader matches the
outputs it computes. Each shipped example submission with a mistake is checked both ways on the checks its
kit holds: every public case that fails in both gets the same diagnosis, and the mistake is named. The kit's
note on libraries that are not installed says what happened, not that legacy APIs were emulated.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from harness import api, kitcheck
from harness.context import build_context, kit_context
from harness.kit import make_kit
from harness.results import SubmissionResult
from harness.runner import check_submission
from harness.selection import select_checks
from harness.spec import load_spec
from reference.mistakes import MISTAKES

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "submissions" / "expected.yaml").read_text(encoding="utf-8"))
SUMMARIES = {mistake.id: mistake for mistake in MISTAKES}
NOT_IN_KITS = ("aics-exp2-2", "aics-exp3-2")        # the DLP labs run the course's own files: no kit holds them
EXAMPLES = sorted(name for name, entry in MANIFEST.items() if entry.get("mistake") and entry["lab"] not in NOT_IN_KITS)
FAILED = ("fail", "error", "timeout")


@pytest.fixture(scope="module")
def kits(tmp_path_factory):
    """lab -> (kit spec, store, kit data directory), made by `harness kit` and unpacked, once per lab."""
    made = {}

    def kit(lab: str):
        if lab not in made:
            out = tmp_path_factory.mktemp(f"kit-{lab}")
            make_kit(lab, out / "made")
            with zipfile.ZipFile(out / "made" / "check.pyz") as archive:
                archive.extractall(out / "unpacked", [name for name in archive.namelist() if name.startswith("kit/")])
            kit_dir = out / "unpacked" / "kit"
            spec, store, _ = kitcheck.load_kit(kit_dir)
            if not any(key.split("/")[2] == kitcheck.MISTAKE_PART for key in store.arrays):
                pytest.fail("harness.kit.make_kit stored no catalogue outputs, so a kit cannot name a mistake: "
                            "after `store = _store(kit_spec, RunContext(context))` it needs "
                            "`store.update(mistake_arrays(kit_spec, store, RunContext(context)))` "
                            "(harness.kitcheck.mistake_arrays)")
            made[lab] = spec, store, kit_dir
        return made[lab]
    return kit


@pytest.fixture(scope="module")
def contexts():
    made = {}

    def context(lab: str):
        if lab not in made:
            made[lab] = build_context(load_spec(lab))
        return made[lab]
    return context


@pytest.mark.parametrize("name", EXAMPLES)
def test_kit_and_grader_name_the_same_mistake(name, kits, contexts):
    entry = MANIFEST[name]
    spec, store, kit_dir = kits(entry["lab"])
    only = [check_id for check_id in entry["must_fail"] if any(check.id == check_id for check in spec.checks)]
    assert only, f"{name}: the kit holds none of {entry['must_fail']}"
    path = ROOT / "submissions" / name
    graded = api.check(path, context=contexts(entry["lab"]), only=only, isolation="process")
    kit = check_submission(path, spec, kit_context(spec, kit_dir, store),
                           kitcheck.run_options(only=select_checks(spec, only)))
    compared = 0
    for kit_check in kit.checks:
        for case in kit_check.cases:
            if case.status not in FAILED:
                continue
            grader_case = next(c for c in graded.check(kit_check.id).cases if c.name == case.name)
            assert grader_case.status in FAILED, (kit_check.id, case.name, grader_case.status)
            assert case.diagnosis == grader_case.diagnosis, (kit_check.id, case.name)
            compared += 1
    assert compared, f"{name}: no public case failed in the kit"
    mistake = SUMMARIES.get(entry["mistake"])
    if mistake is not None and mistake.variant is not None:
        assert mistake.summary in [check.diagnosis for check in kit.checks], \
            {check.id: check.diagnosis for check in kit.checks if check.status in FAILED}


def test_a_kit_stores_mistakes_as_wrong_outputs_only(kits):
    """The stored outputs are the catalogue's, never the expected ones (those are in the kit already), plain
    arrays, and read back in catalogue order with the outputs a mistake leaves right filled in."""
    spec, store, _ = kits("aics-exp2-1")
    expected = store.expected("fc.backward", "mnist-layer")
    candidates = store.mistakes("fc.backward", "mnist-layer", expected)
    summaries = [summary for summary, _ in candidates]
    order = [mistake.summary for mistake in MISTAKES if mistake.kernel == "fc_backward"]
    assert summaries == [summary for summary in order if summary in summaries] and len(summaries) == 3
    averaged = dict(candidates)[SUMMARIES["fc.backward_bias_averaged"].summary]
    np.testing.assert_allclose(averaged["d_bias"], expected["d_bias"] / 100)
    assert averaged["d_weight"] is expected["d_weight"] or np.array_equal(averaged["d_weight"], expected["d_weight"])
    stored = [key.split("/") for key in store.arrays if key.split("/")[2] == "mistake"]
    assert all(store.arrays["/".join(parts)].dtype.kind in "biuf" for parts in stored)
    changed = [parts for parts in stored if parts[4][0] not in ".="]
    assert changed and not [parts for parts in changed if np.array_equal(
        store.arrays["/".join(parts)], store.arrays[f"{parts[0]}/{parts[1]}/out/{parts[4]}"])]


def _result(compat_used: list[str]) -> SubmissionResult:
    return SubmissionResult("aics-exp3-3", "s", [], 90.0, 90.0, None, sandbox={"compat_used": compat_used})


def test_libraries_that_are_not_installed_are_not_called_legacy_apis():
    shown, stand_ins = kitcheck.without_stand_ins(_result([
        "numpy.float", "PIL (not installed: a stand-in that fails when used)",
        "scipy (not installed: a stand-in that fails when used)", "tqdm (not installed: progress bars left out)"]))
    assert shown.sandbox["compat_used"] == ["numpy.float"]
    notes = kitcheck.stand_in_notes(stand_ins)
    assert notes[0].startswith("PIL and scipy are not installed in this Python. Your code imports them, so a "
                               "stand-in was used for the import only")
    assert "not a fault of your code" in notes[0] and "legacy" not in " ".join(notes)
    assert notes[1] == ("tqdm is not installed in this Python; your code imports it, and a stand-in was used "
                        "instead (progress bars left out).")
    unchanged = _result(["numpy.mat"])
    assert kitcheck.without_stand_ins(unchanged) == (unchanged, [])
