"""Hostile submissions: each attack fails, is reported in plain words, and the session serves the next request."""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import numpy as np
import pytest

import harness.sandbox
import reference
from harness.sandbox import channel
from sandbox_helpers import assert_still_serves, call, program, ref, run_function

ATTACKS = """
import os
import sys
import time

import numpy as np

def connect():
    import socket
    socket.create_connection(("93.184.216.34", 80), timeout=2)

def resolve():
    import urllib.request
    urllib.request.urlopen("http://example.com", timeout=2)

def run_subprocess():
    import subprocess
    subprocess.run(["sh", "-c", "echo pwned"])

def run_system():
    os.system("echo pwned")

def fork():
    os.fork()

def fork_bomb():
    import multiprocessing
    for _ in range(100):
        multiprocessing.Process(target=fork_bomb).start()

def load_library():
    import ctypes
    ctypes.CDLL("libc.so.6").system(b"echo pwned")

def call_python_api():
    import ctypes
    ctypes.pythonapi.PyRun_SimpleString(b"import os; os.system('echo pwned')")

def allocate_10_gb():
    return np.ones(10 << 30, dtype=np.uint8)

def write_1_gb():
    block = b"\\0" * (1 << 20)
    with open("big.bin", "wb") as out:
        for _ in range(1024):
            out.write(block)

def create_files(count):
    os.makedirs("many", exist_ok=True)
    for index in range(count):
        open(f"many/{index}", "w").close()

def spawn_threads(count):
    import threading
    for _ in range(count):
        threading.Thread(target=time.sleep, args=(2,), daemon=True).start()

def spawn_threads_past_the_wrapper(count):
    import _thread
    start = _thread.start_new_thread.__globals__["_start"]
    for _ in range(count):
        start(time.sleep, (2,))
    while True:                         # only the child's watchdog can end this request early
        time.sleep(0.1)

def spin():
    while True:
        pass

def walk_objects():
    import gc
    return len(gc.get_objects())

def other_threads_frames():
    return len(sys._current_frames())

def trace_everything():
    sys.settrace(lambda frame, event, arg: None)

def hook_audit():
    seen = []
    sys.addaudithook(lambda event, args: seen.append(event))
    open(__file__).close()
    return len(seen)

def raise_limits():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

def kill(pid):
    os.kill(pid, 9)

def read(path):
    with open(path, "rb") as source:
        return np.frombuffer(source.read(), dtype=np.uint8)

def load(path):
    return np.load(path)

def list_directory(path):
    return len(os.listdir(path))

def exists(path):
    return os.path.exists(path)

def write(path, text):
    with open(path, "a") as out:
        out.write(text)

def write_bytes(path, size):
    with open(path, "wb") as out:
        out.write(b"x" * size)

def rewrite_own_source():
    with open(__file__, "w") as out:
        out.write("def double(x):\\n    return x\\n")

def import_by_name(name):
    sys.modules.pop(name, None)         # a module the bootstrap loaded is imported afresh
    __import__(name)

def exit_zero(x):
    sys.exit(0)

def hard_exit(x):
    os._exit(0)

def patch_numpy_and_cheat(x):
    np.allclose = lambda *args, **kwargs: True
    np.testing.assert_allclose = lambda *args, **kwargs: None
    np.array_equal = lambda *args, **kwargs: True
    return np.zeros_like(x) + 7

def print_fake_results(x):
    print("out = [0.0, 2.0, 4.0]")
    print('{"status": "ok", "values": {"out": [0.0, 2.0, 4.0]}}')
    sys.stdout.flush()
    os.write(1, b"NNSB" + bytes(16) + b"\\0" * 64)
    return x + 1

def write_frames(frame):
    written = []
    for fd in range(3, 1024):
        try:
            os.write(fd, frame.tobytes())
            written.append(fd)
        except OSError:
            pass
    return np.array(written)

def keep_running():
    import threading
    def forever():
        while True:
            time.sleep(0.01)
    threading.Thread(target=forever, daemon=True).start()
    return 1

def survive():
    import subprocess
    attempts = []
    for start in (lambda: subprocess.Popen(["sleep", "1234"], start_new_session=True),
                  lambda: os.posix_spawn("/bin/sleep", ["sleep", "1234"], os.environ),
                  lambda: os.fork()):
        try:
            start()
            attempts.append(1)
        except PermissionError:
            attempts.append(0)
    return np.array(attempts)
"""
AT_IMPORT = {
    "exits_at_import.py": "import sys\nsys.exit(0)\n",
    "hard_exits_at_import.py": "import os\nos._exit(0)\n",
}


@pytest.fixture
def hostile(submission, open_session, tmp_path):
    expected = tmp_path / "expected"
    expected.mkdir()
    np.save(expected / "conv_forward.npy", np.arange(4.0))
    package = submission(**{"attacks.py": ATTACKS, **AT_IMPORT})
    return open_session(package, protected_paths=[expected], limits={"files_created": 300, "python_threads": 16})


def blocked_words(reply) -> str:
    return " | ".join(reply.blocked)


@pytest.mark.parametrize("attack, args, words", [
    ("connect", (), "tried to use the network"),
    ("resolve", (), "tried to use the network"),
    ("run_subprocess", (), "tried to start another process (subprocess.Popen)"),
    ("run_system", (), "tried to start another process (os.system)"),
    ("fork", (), "tried to start another process (os.fork)"),
    ("fork_bomb", (), "tried to start another process"),
    ("load_library", (), "tried to load or call native code through ctypes"),
    ("call_python_api", (), "tried to load or call native code through ctypes (ctypes.dlsym)"),
    ("create_files", (100_000,), "tried to create more than 300 files"),
    ("spawn_threads", (1000,), "tried to run more than 16 threads at once"),
    ("walk_objects", (), "inspect the interpreter's internals (gc.get_objects)"),
    ("other_threads_frames", (), "inspect the interpreter's internals (sys._current_frames)"),
    ("trace_everything", (), "tried to install a trace or profile function"),
    ("raise_limits", (), "tried to change its resource limits"),
    ("kill", (os.getpid(),), "tried to send a signal to another process"),
    ("read", ("/etc/passwd",), "tried to read /etc/passwd, which is outside what it may read"),
    ("list_directory", ("/proc/self/fd",), "which is outside what it may read"),
    ("rewrite_own_source", (), "tried to modify its own source file"),
    ("import_by_name", ("harness",), "tried to import harness"),
    ("import_by_name", ("reference.layers.conv",), "tried to import reference.layers.conv"),
    ("import_by_name", ("_posixsubprocess",), "tried to import _posixsubprocess"),
])
def test_refused_actions_stop_the_code_and_are_reported(hostile, attack, args, words):
    reply = run_function(hostile, "attacks", attack, *args)
    assert reply.status == "blocked", (reply.status, reply.error, reply.detail)
    assert words in blocked_words(reply)
    assert reply.error.exc_type == "SandboxViolation" and reply.error.file == "attacks.py"
    assert "out" not in reply.values
    assert_still_serves(hostile)


def test_a_second_audit_hook_is_refused_quietly(hostile):
    # CPython swallows a refusal of sys.addaudithook (the hook is simply not added): the record remains
    reply = run_function(hostile, "attacks", "hook_audit")
    assert "tried to install its own audit hook" in blocked_words(reply)
    assert reply.values["out"] == 0                      # the submission's hook never saw an event
    assert_still_serves(hostile)


def test_reading_the_reference_and_the_expected_values_is_refused(hostile, tmp_path):
    reference_source = Path(reference.__file__).resolve()
    expected_file = tmp_path / "expected" / "conv_forward.npy"
    for attack, target in (("read", reference_source), ("load", expected_file), ("list_directory", expected_file.parent)):
        reply = run_function(hostile, "attacks", attack, str(target))
        assert reply.status == "blocked" and "out" not in reply.values
        assert f"tried to read {target}, which belongs to the grader" in blocked_words(reply)
    assert_still_serves(hostile)


def test_protected_paths_are_not_even_visible_inside_the_mount_namespace(hostile, tmp_path):
    reply = run_function(hostile, "attacks", "exists", str(tmp_path / "expected" / "conv_forward.npy"))
    assert reply.status == "ok"
    assert "bubblewrap" in reply.layers and not reply.values["out"]


def test_writing_outside_the_scratch_directory_changes_nothing(hostile, tmp_path):
    outside = tmp_path / "outside.txt"
    harness_file = Path(harness.sandbox.__file__)
    before = hashlib.sha256(harness_file.read_bytes()).hexdigest()
    planted = harness_file.with_name(f"_planted_{uuid.uuid4().hex}.py")
    try:
        for target in (outside, harness_file, planted):
            reply = run_function(hostile, "attacks", "write", str(target), "# pwned\n")
            assert reply.status == "blocked"
            assert f"tried to write {target}, outside its scratch directory" in blocked_words(reply)
        assert not outside.exists() and not planted.exists()
        assert hashlib.sha256(harness_file.read_bytes()).hexdigest() == before
    finally:
        planted.unlink(missing_ok=True)
    assert_still_serves(hostile)


def test_exit_at_import_and_mid_call_costs_only_that_request(hostile):
    exits = run_function(hostile, "exits_at_import", "anything")
    assert exits.status == "error" and exits.error.exc_type == "SystemExit"
    assert exits.error.message == "the submission called sys.exit(0)" and "__main__" in exits.error.hint
    assert_still_serves(hostile)
    hard = run_function(hostile, "hard_exits_at_import", "anything")
    assert hard.status == "crashed" and "exit status 0" in hard.detail and hard.step == "importing hard_exits_at_import"
    assert_still_serves(hostile)
    for attack, status in (("exit_zero", "error"), ("hard_exit", "crashed")):
        reply = run_function(hostile, "attacks", attack, ref("x"), x=np.ones(2))
        assert reply.status == status and "out" not in reply.values
        assert_still_serves(hostile)


def test_patching_numpy_in_the_child_does_not_reach_the_parent(hostile):
    reply = run_function(hostile, "attacks", "patch_numpy_and_cheat", ref("x"), x=np.arange(3.0))
    assert reply.status == "ok"
    np.testing.assert_array_equal(reply.values["out"], [7.0, 7.0, 7.0])
    assert not np.allclose(reply.values["out"], 2 * np.arange(3.0))
    assert_still_serves(hostile)


def test_printed_results_and_frames_on_stdout_are_never_read_as_results(hostile):
    reply = run_function(hostile, "attacks", "print_fake_results", ref("x"), x=np.arange(3.0))
    assert reply.status == "ok"
    np.testing.assert_array_equal(reply.values["out"], [1.0, 2.0, 3.0])
    assert "out = [0.0, 2.0, 4.0]" in reply.stdout
    assert_still_serves(hostile)


@pytest.mark.parametrize("nonce", [b"", bytes(16)])
def test_junk_or_forged_frames_on_the_channel_are_a_protocol_failure(hostile, nonce):
    if nonce:          # a well-formed reply claiming out = [0, 2, 4], with a guessed nonce
        parts = channel.encode(channel.REPLY, nonce, 1, {"status": "ok", "values": {"out": {"array": True}}},
                               {"out": np.array([0.0, 2.0, 4.0])})
        frame = b"".join(bytes(part) for part in parts)
    else:
        frame = b"NNSB" + os.urandom(200)
    reply = run_function(hostile, "attacks", "write_frames", ref("frame"),
                         frame=np.frombuffer(frame, dtype=np.uint8))
    assert reply.status == "protocol" and "out" not in reply.values
    assert "interfered with the result channel" in reply.detail
    assert_still_serves(hostile)


@pytest.mark.parametrize("attack, args, status, words", [
    ("allocate_10_gb", (), "error", "ran out of memory"),
    ("write_1_gb", (), "error", "64 MB file-size limit"),
])
def test_resource_exhaustion_fails_with_the_limit_named(hostile, attack, args, status, words):
    reply = run_function(hostile, "attacks", attack, *args)
    assert reply.status == status and words in reply.error.hint
    assert_still_serves(hostile)


def test_an_endless_loop_times_out_and_its_process_is_gone(hostile):
    reply = run_function(hostile, "attacks", "spin", timeout=1.0)
    assert reply.status == "timeout" and reply.step == "calling attacks.spin"
    assert_still_serves(hostile)


def test_threads_started_past_the_wrapper_end_the_child(hostile):
    reply = run_function(hostile, "attacks", "spawn_threads_past_the_wrapper", 40, timeout=20)
    assert reply.status == "blocked" and "tried to run more than 16 threads" in blocked_words(reply)
    assert_still_serves(hostile)


def test_filling_the_scratch_directory_stops_the_child(submission, open_session):
    session = open_session(submission(**{"attacks.py": ATTACKS}), limits={"scratch_bytes": 8 << 20,
                                                                         "file_size": 4 << 20})
    reply = run_function(session, "attacks", "create_files", 0)          # any request, then the files below
    assert reply.status == "ok"
    fill = program({"import": "attacks", "as": "m"},
                   *[call("m.write_bytes", f"fill-{index}.bin", 3 << 20) for index in range(4)])
    reply = session.run(fill)
    assert reply.status == "blocked" and "filled its scratch directory beyond 8 MB" in blocked_words(reply)
    assert_still_serves(session)


def test_no_process_of_the_submission_outlives_the_session(hostile):
    attempts = run_function(hostile, "attacks", "survive")
    np.testing.assert_array_equal(attempts.values["out"], [0, 0, 0])
    assert len(attempts.blocked) == 3
    assert run_function(hostile, "attacks", "keep_running").status == "ok"
    child = hostile._child                       # private: the test needs the pids to check they are gone
    pids = {child.process.pid, child.python_pid}
    hostile.close()
    assert not any(_alive(pid) for pid in pids)
    assert not any(b"1234" in _cmdline(pid) and b"sleep" in _cmdline(pid) for pid in _all_pids() if _alive(pid))


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _alive(pid: int) -> bool:
    """Running or sleeping; a zombie (dead, not yet reaped by its new parent) counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_as_a_plain_process_the_audit_hook_still_refuses(submission, open_session, tmp_path):
    expected = tmp_path / "expected"
    expected.mkdir()
    np.save(expected / "conv_forward.npy", np.arange(4.0))
    session = open_session(submission(**{"attacks.py": ATTACKS}), protected_paths=[expected], isolation="process")
    reply = run_function(session, "attacks", "load", str(expected / "conv_forward.npy"))
    assert reply.status == "blocked" and "belongs to the grader" in blocked_words(reply)
    assert "bubblewrap" not in reply.layers and "audit-hook" in reply.layers
    assert session.summary()["isolation"]["in_force"] == "process"
    assert run_function(session, "attacks", "connect").status == "blocked"
    assert_still_serves(session)


def test_a_readable_file_inside_a_protected_directory_stays_readable_alone(submission, open_session, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "weights.npy", np.arange(3.0))
    np.save(data / "expected.npy", np.arange(5.0))
    session = open_session(submission(**{"attacks.py": ATTACKS}), protected_paths=[data],
                           readable_paths=[data / "weights.npy"])
    reply = run_function(session, "attacks", "load", str(data / "weights.npy"))
    assert reply.status == "ok", (reply.error, reply.stderr)
    np.testing.assert_array_equal(reply.values["out"], np.arange(3.0))
    refused = run_function(session, "attacks", "load", str(data / "expected.npy"))
    assert refused.status == "blocked" and "belongs to the grader" in blocked_words(refused)


def test_a_protected_path_around_the_scratch_directory_is_left_out_with_a_note(submission, open_session):
    import tempfile
    session = open_session(submission(), protected_paths=[Path(tempfile.gettempdir())])
    assert_still_serves(session)
    assert any("cannot be protected as a whole" in note for note in session.summary()["notes"])
