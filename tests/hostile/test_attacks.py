"""Each kind of attack of issue 9, through `harness check` (api.check): the attack fails, the result is
intact, nothing of the submission is left running. The grade batch and the grader's SIGKILL are in
test_batch.py."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness import api
from harness.sandbox import Limits, SandboxConfig, Session

from hostile_helpers import LAB, LIMITS, REPOSITORY, marked_processes

REMOUNT = """
def _remount_and_write():
    _switch_off_the_audit_hook()
    libc = _ctypes.CDLL(None, use_errno=True)
    mounted = libc.mount(b"/", b"/", None, 32 | 4096, None) == 0          # MS_REMOUNT | MS_BIND, read-write
    try:
        with open({target!r}, "w") as out:
            out.write("pwned")
        return True
    except OSError:
        return mounted

_attempt("remount", _remount_and_write)
"""
DIR_FD = """
def _through_dir_fd(directory, entry, flags):
    def attack():
        _switch_off_the_audit_hook()
        # the directory may exist, empty, in the sandbox (a .venv inside the checkout is bound there):
        # its descriptor is closed, or the leak, once per import, would cost the honest code its files
        directory_fd = _os.open(directory, _os.O_RDONLY | _os.O_DIRECTORY)
        try:
            _os.close(_os.open(entry, flags, dir_fd=directory_fd))
        finally:
            _os.close(directory_fd)
        return True
    return attack

_attempt("dir_fd", _through_dir_fd({directory!r}, {entry!r}, {flags}))
"""
DEVICES = """
def _create_in_dev():
    import sqlite3
    _switch_off_the_audit_hook()
    for create in (lambda: _os.mknod("/dev/nnlab-node"), lambda: _os.mkfifo("/dev/nnlab-fifo")):
        try:
            create()
        except OSError:
            pass
    try:
        connection = sqlite3.connect(":memory:")
        connection.execute("ATTACH DATABASE '/dev/nnlab-db' AS evil")
        connection.execute("CREATE TABLE evil.t (x)")
    except sqlite3.Error:
        pass
    return any(_os.path.exists(path) for path in ("/dev/nnlab-node", "/dev/nnlab-fifo", "/dev/nnlab-db"))

_attempt("devices", _create_in_dev)
"""
FORGED_FRAME = """
def _forge(self, input):
    # the nonce and the request id from the child's own objects, then a reply whose array claims
    # shape (0, 2**70), written to every descriptor
    import gc, json, struct
    _switch_off_the_audit_hook()
    objects = gc.get_objects()
    nonce = next(o.nonce for o in objects if type(o).__name__ == "FrameReader" and o.nonce)
    request = max(o.request_id for o in objects if type(o).__name__ == "Frame" and o.kind == 3)
    meta = json.dumps({{"status": "ok", "values": {{"output": {{"array": True}}}},
                       "arrays": [{{"name": "output", "dtype": "<f8", "shape": [0, 2 ** 70]}}]}}).encode()
    body = struct.pack(">I", len(meta)) + meta
    frame = struct.pack(">4s16sQBQ", b"NNSB", nonce, request, 5, len(body)) + body
    for fd in range(3, 64):
        try:
            _os.write(fd, frame)
        except OSError:
            pass
    import time
    time.sleep(5)

FullyConnectedLayer.forward = _forge
"""
OFFLOAD = """
def _offload(self, input):
    # the product computed by a forked helper that then lives on
    _switch_off_the_audit_hook()
    read, write = _os.pipe()
    if _os.fork() == 0:
        _name_this_process()
        result = _honest_forward(self, input)
        _os.write(write, result.astype("<f8").tobytes())
        import time
        time.sleep(3600)
    self.input, size, chunks = input, input.shape[0] * self.weight.shape[1] * 8, []
    while sum(map(len, chunks)) < size:
        chunks.append(_os.read(read, size))
    return np.frombuffer(b"".join(chunks), "<f8").reshape(input.shape[0], -1)

FullyConnectedLayer.forward = _offload
"""
SLEEP = """
def _sleep(self, input):
    import time
    time.sleep(115)              # under the per-request timeout, over any budget
    return _honest_forward(self, input)

FullyConnectedLayer.forward = _sleep
"""
IMPORT_LOOP = """
_switch_off_the_audit_hook()
_name_this_process()
while True:
    pass
"""


def check(path: Path, only=("fc.forward",), limits=LIMITS):
    return api.check(path, LAB, only=list(only) if only else None, limits=dict(limits))


def status(result, check_id: str) -> str:
    return next(check.status for check in result.checks if check.id == check_id)


def assert_isolated(result):
    isolation = result.sandbox["isolation"]
    assert isolation["mode"] == "bwrap" and "seccomp" in isolation["layers"], isolation


def test_the_attack_detector_works_on_what_the_child_may_touch(attack_dir):
    """Control: the dir_fd attack aimed at the submission's own file succeeds, and fc.forward fails."""
    path = attack_dir("control", DIR_FD, directory=".", entry="layers_1.py", flags=0)
    assert status(check(path), "fc.forward") == "fail"


def test_switching_off_the_audit_hook_then_remounting_root_writes_nothing(attack_dir, tmp_path):
    target = tmp_path / "pwned.txt"
    result = check(attack_dir("remount", REMOUNT, target=str(target)))
    assert status(result, "fc.forward") == "pass" and not target.exists()
    assert_isolated(result)


@pytest.mark.parametrize("directory, entry, flags", [
    ("/proc/sys/kernel", "core_pattern", 1),                       # O_WRONLY: a program the kernel runs as root
    (str(REPOSITORY), ".git/HEAD", 0),                             # the history holds reference/
    (str(REPOSITORY), "reference/aics/layers_1.py", 0),            # the example solutions
    (str(REPOSITORY / "specs"), "aics-exp2-1.yaml", 0),
    ("/etc", "passwd", 0),
])
def test_opening_host_files_through_dir_fd_fails(attack_dir, directory, entry, flags):
    result = check(attack_dir("dir-fd", DIR_FD, directory=directory, entry=entry, flags=flags))
    assert status(result, "fc.forward") == "pass"


def test_another_sandboxs_scratch_directory_is_out_of_reach(attack_dir, tmp_path):
    other_package = tmp_path / "other" / "stu_upload"
    other_package.mkdir(parents=True)
    (other_package / "answer.py").write_text("ANSWER = 42\n")
    with Session(SandboxConfig(submission_dir=other_package, limits=Limits(wall_time=10))) as other:
        other.open()
        scratch = other.scratch.package_dir
        result = check(attack_dir("neighbour", DIR_FD, directory=str(scratch), entry="answer.py", flags=0))
        assert (scratch / "answer.py").exists()                   # it is there, on the host
    assert status(result, "fc.forward") == "pass"


def test_device_nodes_fifos_and_sqlite_files_cannot_be_created_in_dev(attack_dir):
    result = check(attack_dir("devices", DEVICES))
    assert status(result, "fc.forward") == "pass"
    assert not any(Path(path).exists() for path in ("/dev/nnlab-node", "/dev/nnlab-fifo", "/dev/nnlab-db"))


def test_a_forged_frame_costs_its_check_and_nothing_else(attack_dir):
    started = time.monotonic()
    result = check(attack_dir("forged", FORGED_FRAME), only=("fc.forward", "relu.forward"))
    forged = next(check for check in result.checks if check.id == "fc.forward")
    assert forged.status == "error" and "interfered with the result channel" in forged.message
    assert status(result, "relu.forward") == "pass"
    assert time.monotonic() - started < 10


def test_work_offloaded_to_a_forked_helper_is_counted_and_the_helper_dies(attack_dir):
    result = check(attack_dir("offload", OFFLOAD))
    assert status(result, "fc.forward") == "pass"                  # the values are right: only timing cares
    assert not marked_processes()


def test_sleeping_in_every_call_is_cut_short_by_the_budgets(attack_dir):
    started = time.monotonic()
    result = check(attack_dir("sleeper", SLEEP), only=None)
    elapsed = time.monotonic() - started
    statuses = {check.id: check.status for check in result.checks}
    assert statuses["fc.forward"] == "timeout"
    first = next(check for check in result.checks if check.id == "fc.forward")
    assert "the check's time budget of 4 s ran out" in first.message
    spent = [check for check in result.checks if "submission's time budget of 8 s was spent" in check.message]
    assert spent and all(check.status == "timeout" for check in spent)
    assert elapsed < 30, elapsed                                    # was 115 s per call, hours per run
    assert result.score < result.max_score


def test_an_endless_import_leaves_no_process_behind(attack_dir):
    result = check(attack_dir("import-loop", IMPORT_LOOP))
    assert status(result, "fc.forward") == "timeout"
    assert not marked_processes()
