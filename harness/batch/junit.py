"""junit.xml: the batch as JUnit XML, for CI dashboards (Jenkins, GitLab) that read it.

One <testsuite> per submission (name = the id), one <testcase> per check (classname = the id, name =
the check id, time = its seconds): a failed check is a <failure>, an error or a timeout an <error>, a
skip a <skipped>. Entries that are not submissions form a last suite, "not graded", each a <skipped>
with the reason. Hidden cases' details are withheld as in every export (only public cases' messages).
Characters XML 1.0 cannot carry (control characters from a student's output) are dropped.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from .layout import BatchPaths, write_atomically
from .store import Record

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def junit_tree(records: list[Record], not_graded: list[tuple[str, str, str]], lab: str) -> ElementTree.Element:
    root = ElementTree.Element("testsuites", name=_text(f"harness grade {lab}"))
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    seconds = 0.0
    for record in records:
        suite = _suite(record)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key))
        seconds += float(suite.get("time"))
    if not_graded:
        suite = ElementTree.SubElement(root, "testsuite", name="not graded", tests=str(len(not_graded)), failures="0",
                                       errors="0", skipped=str(len(not_graded)), time="0")
        for entry_id, status, reason in not_graded:
            case = ElementTree.SubElement(suite, "testcase", classname="not graded", name=_text(entry_id), time="0")
            ElementTree.SubElement(case, "skipped", message=_text(f"{status}: {reason}"))
        totals["tests"] += len(not_graded)
        totals["skipped"] += len(not_graded)
    root.attrib.update({key: str(value) for key, value in totals.items()})
    root.set("time", f"{seconds:.3f}")
    return root


def write_junit(records: list[Record], not_graded: list[tuple[str, str, str]], lab: str, paths: BatchPaths) -> Path:
    tree = junit_tree(records, not_graded, lab)
    ElementTree.indent(tree)
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(tree, encoding="unicode") + "\n"
    write_atomically(paths.junit, text)
    return paths.junit


def _suite(record: Record) -> ElementTree.Element:
    checks = record.result.get("checks", [])
    suite = ElementTree.Element("testsuite", name=_text(record.id), timestamp=_iso(record.graded_at))
    counts = dict.fromkeys(("failures", "errors", "skipped"), 0)
    for check in checks:
        case = ElementTree.SubElement(suite, "testcase", classname=_text(record.id), name=_text(check["id"]),
                                      time=f"{check.get('duration', 0.0):.3f}")
        status = check.get("status")
        message = _text(_message(check))
        if status == "fail":
            ElementTree.SubElement(case, "failure", message=message, type="fail")
            counts["failures"] += 1
        elif status in ("error", "timeout"):
            element = ElementTree.SubElement(case, "error", message=message, type=status)
            if check.get("harness_fault") and check.get("traceback"):
                element.text = _text(check["traceback"])
            counts["errors"] += 1
        elif status == "skip":
            ElementTree.SubElement(case, "skipped", message=message)
            counts["skipped"] += 1
    suite.attrib.update({key: str(value) for key, value in counts.items()})
    suite.set("tests", str(len(checks)))
    suite.set("time", f"{sum(check.get('duration', 0.0) for check in checks):.3f}")
    if record.status != "graded":            # the schema wants <properties> before the test cases
        properties = ElementTree.Element("properties")
        ElementTree.SubElement(properties, "property", name="status", value=_text(f"{record.status}: {record.reason}"))
        suite.insert(0, properties)
    return suite


def _message(check: dict) -> str:
    cases = check.get("cases", [])
    public = [case for case in cases if case.get("public") and case.get("status") != "pass"]
    if public:
        return f"case {public[0]['name']}: {public[0].get('message', '')}"
    if any(case.get("status") != "pass" for case in cases):
        return "a hidden case did not pass (details are withheld)"
    return check.get("message", "")


def _text(text: str) -> str:
    return _NOT_XML.sub("", str(text))


def _iso(timestamp: float) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
