"""The spec's resource limits can be overridden per run (`--limit KEY=VALUE`), with clear errors."""
from pathlib import Path

import pytest

from harness import api, cli
from harness.errors import HarnessError
from harness.spec import load_spec, override_limits

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "submissions" / "aics-exp2-1" / "correct"


def test_override_replaces_only_the_named_limits():
    limits = load_spec("aics-exp2-1").limits
    changed = override_limits(limits, {"address_space": "8G", "open_files": "128", "cpu_time": "90"})
    assert (changed.address_space, changed.open_files, changed.cpu_time) == (8 << 30, 128, 90.0)
    assert changed.file_size == limits.file_size and changed.timeout == limits.timeout


@pytest.mark.parametrize("overrides, words", [
    ({"bogus": "1"}, "unknown limit 'bogus'"),
    ({"timeout": "5"}, "unknown limit 'timeout'"),
    ({"address_space": "lots"}, "not a valid value"),
    ({"open_files": "0"}, "must be positive"),
])
def test_bad_overrides_are_harness_errors(overrides, words):
    with pytest.raises(HarnessError, match=words):
        override_limits(load_spec("aics-exp2-1").limits, overrides)


def test_cli_reports_a_bad_limit_in_one_line(capsys):
    assert cli.main(["check", str(CORRECT), "--lab", "aics-exp2-1", "--limit", "bogus=1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("harness: error: unknown limit") and "\n" not in error


def test_a_tight_limit_reaches_the_child_and_is_named():
    result = api.check(CORRECT, "aics-exp2-1", only=["fc.forward"], limits={"address_space": "100M"})
    check = next(check for check in result.checks if check.id == "fc.forward")
    assert check.status == "error"
    assert "address-space limit (100 MiB)" in check.message
