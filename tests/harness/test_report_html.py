"""`harness check ... --html FILE` (harness/report/html.py): one self-contained page with the score and
every check, that never shows a hidden case's inputs or expected values and escapes what the
submission says.

The submission is aics-exp2-1/correct with three changes:
  * FullyConnectedLayer.forward is wrong only for batches under 50: the public case (batch 100)
    passes, the hidden cases (batch 3 and 1) fail with a values message;
  * ReLULayer.backward raises ValueError('<script>alert(1)</script>');
  * SoftmaxLossLayer.forward scales the probabilities by 1.01: the public case fails, so the page
    does show expected values there (the control for the search below).
"""
from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness import cli
from harness.adapters import registry
from harness.context import RunContext, build_context
from harness.report.html import DIFFER, MATCH
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "submissions" / "aics-exp2-1" / "correct"
XSS = "<script>alert(1)</script>"
HIDDEN_NOTE = "hidden case: no values shown"
EDITS = [
    ("        self.output = np.matmul(self.input, self.weight) + self.bias\n        return self.output\n",
     "        self.output = np.matmul(self.input, self.weight) + self.bias\n"
     "        if input.shape[0] < 50:\n"
     "            self.output = self.output * 1.5 + 0.25\n"
     "        return self.output\n"),
    ("        bottom_diff = top_diff * (self.input > 0)\n",
     f"        raise ValueError('{XSS}')\n"),
    ("        self.prob = input_exp / np.sum(input_exp, axis=1, keepdims=True)\n",
     "        self.prob = 1.01 * input_exp / np.sum(input_exp, axis=1, keepdims=True)\n"),
]
SELECTED = ("fc.forward", "relu.backward", "softmax.forward")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("html")
    submission = base / "submission"
    shutil.copytree(CORRECT, submission)
    source_path = submission / "stu_upload" / "layers_1.py"
    source = source_path.read_text()
    for old, new in EDITS:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    source_path.write_text(source)
    html_path, json_path = base / "report" / "page.html", base / "report" / "result.json"
    code = cli.main(["check", str(submission), "--lab", "aics-exp2-1", "--only", ",".join(SELECTED),
                     "--html", str(html_path), "--json", str(json_path)])
    assert code == 1
    return html_path.read_text(encoding="utf-8"), json.loads(json_path.read_text())


def _detail(html: str, check_id: str) -> str:
    """The section of one check."""
    match = re.search(rf'<section class="panel \w+" id="check-{re.escape(check_id)}">(.*?)\n</section>', html, re.S)
    assert match, f"no section for {check_id}"
    return match.group(1)


def _without_data_uris(html: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "DATA", html)


def _case_arrays(check_id: str, case_name: str) -> dict[str, np.ndarray]:
    spec = load_spec("aics-exp2-1")
    check = spec.check(check_id)
    case = next(case for case in check.cases if case.name == case_name)
    kind, context = registry.get(check.kind), RunContext(build_context(spec))
    arrays = kind.make_inputs(check, case, context)
    expected = kind.expected(check, case, arrays, context)
    return {**{f"in/{k}": v for k, v in arrays.items()}, **{f"out/{k}": v for k, v in expected.items()}}


def _printed_forms(values: np.ndarray) -> set[str]:
    """How a value could appear in the page: 6 and 4 significant digits (the messages use .6g), sign dropped.
    Short forms (0, 1.5 ...) could occur for other reasons and are left out."""
    forms = set()
    for value in np.abs(np.asarray(values, dtype=np.float64).ravel()):
        for text in (f"{value:.6g}", f"{value:.4g}"):
            if len(text.replace("0.", "").replace(".", "")) >= 4 and "e" not in text:
                forms.add(text)
    return forms


def test_page_is_self_contained(report):
    html, _ = report
    assert "<link" not in html and "@import" not in html and "<script" not in html
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", html)
    sources = re.findall(r"\ssrc\s*=\s*[\"']([^\"']*)", html)
    links = re.findall(r"\shref\s*=\s*[\"']([^\"']*)", html)
    assert sources and all(source.startswith("data:image/") for source in sources), sources[:3]
    assert links and all(link.startswith("#") for link in links), links
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", html, re.I)


def test_page_shows_score_and_every_check(report):
    html, result = report
    assert result["score"] == 10 and result["max_score"] == 100      # relu.forward passed, nothing else
    assert f"Score {result['score']:g} / {result['max_score']:g}" in html
    for check in load_spec("aics-exp2-1").checks:
        assert f">{check.id}</a>" in html, check.id
    statuses = {check["id"]: check["status"] for check in result["checks"]}
    assert statuses["relu.forward"] == "pass" and statuses["relu.backward"] == "error"
    assert statuses["fc.forward"] == "fail" and statuses["softmax.forward"] == "fail"
    for check_id in ("fc.forward", "relu.backward", "softmax.forward"):
        status = statuses[check_id]
        assert f'{check_id} — <span class="badge {status}">{status.upper()}</span>' in _detail(html, check_id)


def test_hidden_case_values_are_not_in_the_page(report):
    html, _ = report
    text = _without_data_uris(html)
    fc = _detail(html, "fc.forward")
    # the failing case the page describes is a hidden one, and the page says its values are hidden
    assert "<pre>case small: output:" in fc
    assert HIDDEN_NOTE in fc and "case small" in fc and "case single-sample" in fc
    hidden = {}
    for case_name in ("small", "single-sample"):
        hidden.update({f"{case_name}/{key}": value for key, value in _case_arrays("fc.forward", case_name).items()})
    forms = {form: key for key, value in hidden.items() for form in _printed_forms(value)}
    assert len(forms) > 40                                 # inputs x, weight, bias and the expected output
    shown = {form: key for form, key in forms.items() if form in text}
    assert shown == {}


def test_public_case_values_are_shown(report):
    """The control for the search above: for a public case the page does print expected values."""
    html, _ = report
    softmax = _detail(html, "softmax.forward")
    assert "<pre>case lab: prob:" in softmax and "expected " in softmax
    public = _case_arrays("softmax.forward", "lab")["out/prob"]
    assert any(form in softmax for form in _printed_forms(public))
    assert "absolute error where outside the tolerance" in softmax       # the public case's map shows error sizes


def test_hidden_case_maps_are_masks(report):
    """A hidden case's picture says only where values are wrong: two colours, no error magnitudes."""
    from PIL import Image
    html, _ = report
    pictures = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"', html)
    hidden = [data for data, alt in pictures if HIDDEN_NOTE in alt]
    public = [data for data, alt in pictures if "absolute error" in alt]
    assert len(hidden) >= 2 and public

    def colours(data: str) -> set:
        image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
        return {tuple(pixel) for pixel in np.asarray(image).reshape(-1, 3).tolist()}
    for data in hidden:
        assert colours(data) <= {MATCH, DIFFER} and DIFFER in colours(data)
    assert any(len(colours(data)) > 2 for data in public)        # the control: error sizes as a colour scale


def test_json_hides_hidden_case_parameters_and_expected_values(report):
    _, result = report
    fc = next(check for check in result["checks"] if check["id"] == "fc.forward")
    cases = {case["name"]: case for case in fc["cases"]}
    assert cases["mnist-layer"]["public"] and "params" in cases["mnist-layer"]
    assert "worst_expected" in cases["mnist-layer"]["metrics"]["output"]
    for name in ("small", "single-sample"):
        assert not cases[name]["public"] and "params" not in cases[name]
        assert "worst_expected" not in json.dumps(cases[name])


def test_exception_message_is_escaped(report):
    html, result = report
    relu = next(check for check in result["checks"] if check["id"] == "relu.backward")
    assert XSS in relu["message"]                              # the submission's message did reach the result
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _detail(html, "relu.backward")
