"""The audit policy's decisions, called directly (an audit hook cannot be removed, so none is installed here)."""
from __future__ import annotations

import os

import pytest

from harness.sandbox import launch, policy


@pytest.fixture
def layout(tmp_path):
    scratch = tmp_path / "work"
    (scratch / "stu_upload").mkdir(parents=True)
    source = scratch / "stu_upload" / "layers_1.py"
    source.write_text("x = 1\n")
    protected = tmp_path / "reference"
    protected.mkdir()
    (protected / "conv.py").write_text("secret = 1\n")
    (protected / "image.png").write_bytes(b"png")
    settings = {"scratch_root": str(scratch), "sources": [str(source)], "readable": [str(protected / "image.png")],
                "protected": [str(protected)], "python_roots": launch.python_roots(), "max_files": 3, "max_threads": 4}
    return settings, scratch, protected


@pytest.fixture
def guard(layout):
    settings, _, _ = layout
    notified = []
    return policy.Policy(settings, lambda: notified.append(True)), notified


def test_reads_are_allowed_from_the_allow_list_only(layout):
    settings, scratch, protected = layout
    paths = policy.Paths(settings)
    assert paths.read_refusal(str(scratch / "stu_upload" / "layers_1.py")) is None
    assert paths.read_refusal(os.path.realpath(os.__file__)) is None
    assert paths.read_refusal(str(protected / "image.png")) is None          # readable wins over protected
    assert paths.read_refusal(str(protected / "conv.py")) == "read_protected"
    assert paths.read_refusal(str(protected)) == "read_protected"
    assert paths.read_refusal("/etc/passwd") == "read"
    assert paths.read_refusal(f"{os.path.realpath('/proc/self')}/stat") is None
    assert paths.read_refusal(f"{os.path.realpath('/proc/self')}/mem") == "read"


def test_writes_stay_in_the_scratch_directory_and_off_the_sources(layout):
    settings, scratch, protected = layout
    paths = policy.Paths(settings)
    assert paths.write_refusal(str(scratch / "tmp" / "out.npy")) is None
    assert paths.write_refusal(str(scratch / "stu_upload" / "layers_1.py")) == "modify_source"
    assert paths.write_refusal(str(protected / "conv.py")) == "write"
    assert paths.write_refusal(str(scratch) + "-sibling/x") == "write"


def test_a_refusal_raises_records_and_notifies(layout, guard):
    _, _, protected = layout
    hook, notified = guard
    with pytest.raises(policy.SandboxViolation, match="belongs to the grader"):
        hook("open", (str(protected / "conv.py"), "r", os.O_RDONLY))
    assert hook.drain() == [{"action": "read_protected", "detail": str(protected / "conv.py")}]
    assert notified == [True] and hook.drain() == []


def test_allowed_events_pass_silently(layout, guard):
    _, scratch, _ = layout
    hook, notified = guard
    hook("open", (str(scratch / "stu_upload" / "layers_1.py"), "r", os.O_RDONLY))
    hook("open", (str(scratch / "new.txt"), "w", os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
    hook("exec", (None,))
    hook("os.kill", (os.getpid(), 0))
    assert hook.drain() == [] and notified == []


@pytest.mark.parametrize("event, args, action", [
    ("socket.connect", (None, ("1.2.3.4", 80)), "network"),
    ("subprocess.Popen", ("sh", ["sh"], None, None), "process"),
    ("os.fork", (), "process"),
    ("ctypes.dlopen", ("libc.so.6",), "native"),
    ("gc.get_referrers", ((),), "introspect"),
    ("sys._current_frames", (), "introspect"),
    ("sys.addaudithook", (), "audit"),
    ("resource.setrlimit", (9, (-1, -1)), "limits"),
    ("os.kill", (1, 9), "signal"),
    ("import", ("reference.layers", None, [], [], []), "import"),
    ("sys.settrace", (), "trace"),
])
def test_forbidden_events_are_refused_with_their_action(guard, event, args, action):
    hook, _ = guard
    with pytest.raises(policy.SandboxViolation):
        hook(event, args)
    assert hook.drain()[0]["action"] == action


def test_file_creation_is_counted(layout, guard):
    _, scratch, _ = layout
    hook, _ = guard
    for index in range(3):
        hook("open", (str(scratch / f"f{index}"), "w", os.O_WRONLY | os.O_CREAT))
    with pytest.raises(policy.SandboxViolation, match="more than 3 files"):
        hook("os.mkdir", (str(scratch / "one-too-many"), 0o777, -1))


def test_a_flood_of_refusals_is_summarised(guard):
    hook, _ = guard
    for _ in range(policy.MAX_RECORDS + 5):
        with pytest.raises(policy.SandboxViolation):
            hook("os.fork", ())
    records = hook.drain()
    assert len(records) == policy.MAX_RECORDS + 1
    assert policy.describe(records[-1]) == "and 5 more refused actions"


def test_every_action_has_plain_words():
    for action in policy.ACTIONS:
        words = policy.describe({"action": action, "detail": "X"})
        assert "{" not in words and (words.startswith("the submission") or words.startswith("and"))
    assert "forbidden action" in policy.describe({"action": "unheard-of", "detail": "x"})
