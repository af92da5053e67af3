"""What the reports say, in the console and the HTML page (harness/report): several findings of a
diagnosis are shown apart, never run together; long text is cut at a word with an ellipsis, the full text
kept; the next level names the check to fix, not the one failing because of it; a speedup says what it is
measured against.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness import api
from harness.report import html as report
from harness.report.console import format_result, speedup_figure
from harness.report.nextlevel import describe, next_level
from harness.report.text import ELLIPSIS, parts, shorten
from harness.results import CaseOutcome, CheckResult, SubmissionResult
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
ROOT_CAUSE = ("this probably follows from conv.forward_speedup, which failed: your VGG19 builds its layers so "
              "that they run ConvolutionalLayer.forward_speedup (built with type=1, the speedup path), which "
              "conv.forward_speedup found wrong; fix that first")
OWN = "losses: 100% of the values differ; image: values differ everywhere"
SPEEDUP = {"ratio": 30.1, "reference_ratio": 523.4, "judged_against": "the reference's plain loop",
           "raw_seconds": 0.5, "speedup_seconds": 0.001, "reference_raw_seconds": 0.03,
           "reference_speedup_seconds": 0.0000573}


def _check(check_id, status, points=0.0, max_points=10.0, message="", diagnosis="", root_cause=None, metrics=None):
    check = CheckResult(check_id, check_id, status, points, max_points, message, metrics=metrics or {},
                        diagnosis=diagnosis, cases=[CaseOutcome("lab", status, public=True, metrics={})])
    check.root_cause = root_cause
    return check


def _padding_one_side() -> SubmissionResult:
    """exp 3-3's padding-one-side as the trial saw it: style_transfer.run fails because conv.forward_speedup
    (a level-100 check) does; conv.backward_speedup is not run because of it."""
    spec = load_spec("aics-exp3-3")
    failing = {"conv.forward_speedup": _check("conv.forward_speedup", "fail", max_points=5, message="values differ",
                                              diagnosis="you padded only the bottom and right"),
               "style_transfer.run": _check("style_transfer.run", "fail", message="case small: losses differ",
                                            diagnosis=f"{ROOT_CAUSE}\n{OWN}", root_cause="conv.forward_speedup"),
               "conv.backward_speedup": _check("conv.backward_speedup", "skip", max_points=5,
                                               message="not run: depends on conv.forward_speedup, which did not pass"),
               "pool.speedup_forward": _check("pool.speedup_forward", "pass", 2.5, 2.5,
                                              metrics={"cases": 1, "cases_passed": 1, **SPEEDUP})}
    checks = [failing.get(check.id) or _check(check.id, "pass", check.points, check.points) for check in spec.checks]
    return SubmissionResult("aics-exp3-3", "padding-one-side", checks, 75, 100, 60)


@pytest.fixture(scope="module")
def padding():
    result = _padding_one_side()
    spec = load_spec("aics-exp3-3")
    return {"result": result, "spec": spec, "console": format_result(result, spec),
            "page": report.render_html(result, spec.tiers)}


def _text(page: str) -> str:
    """What a reader sees: tags dropped, whitespace collapsed as a browser does."""
    page = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).replace("&#39;", "'")


# --- several findings -------------------------------------------------------------------------------------


def test_findings_are_apart_in_the_console(padding):
    lines = padding["console"].splitlines()
    first = next(index for index, line in enumerate(lines) if "diagnosis: this probably follows" in line)
    assert lines[first].strip().endswith("fix that first") and lines[first + 1].strip() == f"also: {OWN}"


def test_findings_are_apart_in_the_page(padding):
    page = padding["page"]
    section = page[page.index('id="check-style_transfer.run"'):]
    section = section[:section.index("</section>")]
    items = re.findall(r"<li>(.*?)</li>", section)
    assert [item.replace("&#39;", "'") for item in items] == [ROOT_CAUSE, OWN]
    assert not re.search(r"fix that first\s+losses", page)            # never in one run of text


def test_an_error_shared_by_checks_shows_its_findings_apart():
    checks = [_check(f"c{index}", "error", message="ImportError: no module named layers_2",
                     diagnosis="the file is missing\nyou named it layers2.py") for index in range(2)]
    page = report.render_html(SubmissionResult("lab", "s", checks, 0, 20, None))
    problem = re.search(r'id="problem-1">(.*?)</div>\s*</div>', page, re.S).group(1)
    assert re.findall(r"<li>(.*?)</li>", problem) == ["the file is missing", "you named it layers2.py"]


def test_text_is_shortened_at_a_word_with_an_ellipsis():
    message = ("backward must set self.d_weight and self.d_bias, in every version of it (raw and speedup): they "
               "are the gradients the update step reads, and a check compares them with the reference's")
    for limit in range(20, len(message)):
        short = shorten(message, limit)
        assert len(short) <= limit and short.endswith(ELLIPSIS)
        kept = short[:-1]
        assert message.startswith(kept) and message[len(kept)] in " ,;:", (limit, short)
    assert shorten(message, 1000) == message
    assert shorten("a" * 300, 50) == "a" * 49 + ELLIPSIS             # no word boundary at all: cut, marked
    assert shorten("first\nsecond", 100) == "first | second" and parts(" a \n\n b ") == ["a", "b"]


# --- the next level -------------------------------------------------------------------------------------


def test_next_level_names_the_root_cause_not_the_symptom(padding):
    console = padding["console"]
    assert "next level 80 needs: conv.forward_speedup (style_transfer.run fails because of it)" in console
    assert "needs: style_transfer.run" not in console
    text = _text(padding["page"])
    assert "Next level, 80, needs: conv.forward_speedup (style_transfer.run fails because of it)" in text
    assert 'href="#check-conv.forward_speedup">conv.forward_speedup</a>' in padding["page"]


def test_next_level_follows_a_skipped_check_to_the_dependency_the_runner_names():
    """exp 2-1's fc-no-bias-grad, run for real: fc.update is not run because fc.backward failed."""
    spec = load_spec("aics-exp2-1")
    result = api.check(ROOT / "submissions" / "aics-exp2-1" / "fc-no-bias-grad", "aics-exp2-1", only=["fc.update"])
    assert result.check("fc.update").status == "skip" and result.check("fc.backward").status == "fail"
    nxt = next_level(spec.tiers, result.checks)
    assert [describe(need) for need in nxt.needs][:1] == ["fc.backward (fc.update was not run because of it)"]
    # a check left out by --only is no dependency's fault: it is named itself
    assert "relu.forward" in nxt.ids and "relu.backward" in nxt.ids
    assert "next level 100 needs: fc.backward (fc.update was not run because of it), relu.forward" in \
        format_result(result, spec)


def test_next_level_follows_chains_and_lists_each_cause_once():
    tiers = load_spec("aics-exp2-1").tiers
    checks = [_check("fc.forward", "fail"),
              _check("fc.backward", "skip", message="not run: depends on fc.forward, which did not pass"),
              _check("fc.update", "skip", message="not run: depends on fc.backward, which did not pass"),
              _check("relu.forward", "pass"), _check("relu.backward", "fail", root_cause="fc.forward"),
              _check("softmax.forward", "pass"), _check("softmax.loss", "pass"), _check("softmax.backward", "pass")]
    nxt = next_level(tiers, checks)
    assert [describe(need) for need in nxt.needs] == [
        "fc.forward (relu.backward fails and fc.backward and fc.update were not run because of it)"]


# --- speedups -------------------------------------------------------------------------------------------


def test_a_speedup_says_what_it_is_measured_against(padding):
    words = "speedup 30.1x over the course's plain loop; the reference solution's speedup path: 523.4x"
    assert speedup_figure(SPEEDUP) == words
    assert words in padding["console"] and words in _text(padding["page"])
    assert "(reference 523.4x)" not in padding["console"]
    kit = {**SPEEDUP, "reference_ratio": float("nan"), "judged_against": "your raw path"}
    assert speedup_figure(kit) == "speedup 30.1x over your raw path (not calibrated: no reference solution here)"
    import html
    labels = [html.unescape(label) for label in re.findall(r">([^<]+)</text>", report.timing_chart(SPEEDUP))]
    assert {"your raw", "your speedup", "course's plain loop", "reference solution"} <= set(labels)


def test_an_error_that_stops_several_checks_is_printed_once(tmp_path):
    from harness import api
    from harness.report.console import format_result
    from harness.spec import load_spec
    (tmp_path / "empty").mkdir()
    result = api.check(tmp_path / "empty", "aics-exp2-1")
    text = format_result(result, load_spec("aics-exp2-1"))
    assert text.count("layers_1.py is missing") == 1
    errors = [check for check in result.checks if check.status == "error"]
    assert len(errors) >= 3 and text.count(f"the same error as {errors[0].id}") == len(errors) - 1
