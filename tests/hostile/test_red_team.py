"""The red team's findings after issue 9, one test per kind (reproductions were in /tmp/redteam):

    scratch past PATH_MAX          the scratch directory is a size-capped tmpfs (and the walk without
                                   bubblewrap is descriptor-relative)
    memory outside RSS             memfd, SysV/POSIX IPC and sockets refused; the cgroup counts the rest
    CPU between requests           the tree is stopped between requests, its CPU rate capped by a quota
    tar bombs                      archives unpacked in a bounded subprocess that counts what it decompresses
    parser bombs in looplint       the source reader runs bounded, once, on the copied files, on the budget
    answer key from names          hidden seeds salted with the grader's secret
    scratch left by a SIGKILL      removed at the next session's start, with the dead grader's cgroup

Session-level where that shows the kind (fast); ``harness check`` where the path through the runner matters.
"""
from __future__ import annotations

import bz2
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from harness import archives, looplint, secret
from harness.sandbox import Limits, SandboxConfig, Session, cgroup, scratch
from harness.sandbox.isolation import cgroup_host
from harness.spec import load_spec
from harness.submission import discover_entries, locate_submission

REPOSITORY = Path(__file__).resolve().parents[2]
SWITCH_OFF = """
import os, time
def switch_off():
    for cls in object.__subclasses__():
        if cls.__name__ == "Policy" and hasattr(cls, "refuse"):
            cls.__call__ = lambda self, event, args: None
"""


def open_session(tmp_path: Path, source: str, **limits) -> Session:
    package = tmp_path / "stu_upload"
    package.mkdir(exist_ok=True)
    (package / "attack.py").write_text(SWITCH_OFF + textwrap.dedent(source))
    session = Session(SandboxConfig(submission_dir=package, limits=Limits(**{"wall_time": 20.0, **limits})))
    session.open()
    return session


def call(session: Session, function: str, *args, timeout: float | None = None):
    program = {"steps": [{"import": "attack", "as": "m"}, {"call": f"m.{function}", "args": list(args), "as": "out"}],
               "outputs": ["out"]}
    return session.run(program, timeout=timeout)


def still_serves(session: Session) -> None:
    reply = call(session, "honest")
    assert reply.status == "ok" and reply.values["out"] == 42, (reply.status, reply.detail, reply.stderr)


def host_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


# --- scratch past PATH_MAX ------------------------------------------------------------------------------

DEEP_DISK = """
def honest():
    return 42

def fill(megabytes):
    # nest past PATH_MAX with descriptor-relative mkdir, then write: the path-based walk skipped all of it
    switch_off()
    fd = os.open(".", os.O_RDONLY)
    for _ in range(25):
        os.mkdir("d" * 200, dir_fd=fd)
        inner = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    written, chunk = 0, b"x" * (1 << 20)
    out = os.open("f", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
    try:
        for _ in range(megabytes):
            written += os.write(out, chunk)
    except OSError as error:
        return [written, error.errno]
    return [written, 0]
"""


def test_scratch_is_a_size_capped_tmpfs_however_deep_the_directories(tmp_path):
    session = open_session(tmp_path, DEEP_DISK, scratch_bytes=16 << 20)
    try:
        reply = call(session, "fill", 64)
        assert reply.status == "blocked" and "filled its scratch directory beyond 16 MB" in " ".join(reply.blocked)
        assert host_bytes(session.scratch.session_dir) < 1 << 20           # nothing reached the host's disk
        still_serves(session)                                                 # a new child, a fresh tmpfs
        assert "tmpfs-usage-watch" in session.layers
    finally:
        session.close()


def test_the_walk_without_bubblewrap_sees_past_path_max_and_flags_what_it_cannot_see(tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    for _ in range(25):
        os.mkdir("d" * 200, dir_fd=fd)
        inner = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    with os.fdopen(os.open("f", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "wb") as out:
        out.write(b"x" * (3 << 20))
    os.close(fd)
    used, entries, problem = scratch.usage(root)
    assert used >= 3 << 20 and entries == 26 and problem is None
    deep = tmp_path / "deep"
    (deep / "/".join(["d"] * 70)).mkdir(parents=True)
    assert "nested more than 64 deep" in scratch.usage(deep)[2]


# --- memory outside resident memory ----------------------------------------------------------------------

HIDDEN_MEMORY = """
def honest():
    return 42

def hide():
    import ctypes, socket
    switch_off()
    libc = ctypes.CDLL(None, use_errno=True)
    refused = {}
    attempts = refused
    try:
        os.memfd_create("m")
        refused["memfd"] = False
    except PermissionError:
        refused["memfd"] = True
    refused["shmget"] = libc.shmget(0, 1 << 20, 0o1600) == -1 and ctypes.get_errno() == 1
    refused["msgget"] = libc.msgget(0, 0o1600) == -1 and ctypes.get_errno() == 1
    refused["mq_open"] = libc.mq_open(b"/q", 0o100 | 2, 0o600, None) == -1 and ctypes.get_errno() == 1
    try:
        socket.socketpair()
        refused["socketpair"] = False
    except PermissionError:
        refused["socketpair"] = True
    try:
        open("/dev/shm/x", "wb").write(b"x")
        refused["dev_shm"] = False
    except OSError:
        refused["dev_shm"] = True
    order = ("memfd", "shmget", "msgget", "mq_open", "socketpair", "dev_shm")
    return sum(1 << index for index, name in enumerate(order) if attempts[name])      # a bit per refusal
"""


def test_memory_no_process_holds_is_refused_by_seccomp(tmp_path):
    session = open_session(tmp_path, HIDDEN_MEMORY)
    try:
        reply = call(session, "hide")
        assert reply.status == "ok", (reply.detail, reply.error)
        assert reply.values["out"] == 0b111111, bin(reply.values["out"])       # every one refused
    finally:
        session.close()


MEMFD_HOLDER = """
import os
fd, chunk = os.memfd_create("m"), b"x" * (1 << 20)
for _ in range(256):
    os.write(fd, chunk)
print("held")
"""


def test_the_cgroup_counts_memory_outside_every_process_and_kills_past_it():
    host = cgroup_host()
    if not host.usable:
        pytest.skip(host.describe())
    group = cgroup.Group.create(host, memory_bytes=96 << 20, pids=16, cpus=1.0)
    try:
        done = subprocess.run(cgroup.enter_command(group, [sys.executable, "-I", "-S", "-c", MEMFD_HOLDER]),
                              capture_output=True, timeout=60)
        assert done.returncode == -signal.SIGKILL and b"held" not in done.stdout
        assert group.oom_kills() >= 1
    finally:
        group.kill()
        group.remove()
    assert not any(directory.exists() for directory in group.directories.values())


# --- CPU between requests ----------------------------------------------------------------------------------

CPU_HOG = """
def honest():
    return 42

def spin(count):
    switch_off()
    for _ in range(count):
        if os.fork() == 0:
            while True:
                pass
    return count

def nap(seconds):
    time.sleep(seconds)
    return seconds
"""


def test_the_tree_is_stopped_between_requests_and_its_cpu_rate_is_capped(tmp_path):
    session = open_session(tmp_path, CPU_HOG)
    try:
        assert call(session, "spin", 3).status == "ok"
        child = session._child                       # private: the test reads the tree between requests
        before = child.cpu_seconds()
        time.sleep(1.0)
        assert child.cpu_seconds() - before < 0.1    # three spinners, stopped: no CPU while the checks wait
        states = [Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] for pid in child._stopped]
        assert len(states) >= 6 and set(states) <= {"T", "t"}, states      # bwrap, its init, python, spinners
        reply = call(session, "nap", 1.0)
        assert reply.status == "ok" and reply.cpu_time > 0.5            # running again: counted in the request
        if session.plan.cgroup is not None:
            assert reply.cpu_time < 1.25 * reply.wall_time + 0.3, (reply.cpu_time, reply.wall_time)
            assert "cgroup" in session.layers
        assert "stopped-between-requests" in session.layers
    finally:
        session.close()


# --- tar bombs ------------------------------------------------------------------------------------------

ZEROS = bz2.compress(b"\0" * (8 << 20), 9)          # one bzip2 stream of 8 MiB of zeros; streams concatenate


def _bz2_tar(path: Path, header: tarfile.TarInfo, claimed: int) -> Path:
    """A .tar.bz2 whose first member (``header``) really holds ``claimed`` zero bytes, then a course file."""
    pax = header.type == tarfile.XHDTYPE
    header.size, header.type = claimed, tarfile.REGTYPE
    head = bytearray(header.tobuf(format=tarfile.USTAR_FORMAT))
    if pax:                                              # tarfile writes no bare pax header: patch the type
        head[156:157] = tarfile.XHDTYPE
        head[148:156] = b"%06o\0 " % (256 + sum(head[:148]) + sum(head[156:512]))
    course = tarfile.TarInfo("stu_upload/layers_1.py")
    data = b"x = 1\n"
    course.size = len(data)
    tail = course.tobuf(format=tarfile.USTAR_FORMAT) + data + b"\0" * (512 - len(data)) + b"\0" * 1024
    path.write_bytes(bz2.compress(bytes(head)) + ZEROS * (claimed // (8 << 20)) + bz2.compress(tail))
    return path


@pytest.fixture(scope="module")
def spec():
    return load_spec("aics-exp2-1")


@pytest.mark.parametrize("kind, name, claimed", [
    (tarfile.XHDTYPE, "PaxHeaders/x", 1 << 30),           # tarfile read the whole header into memory
    (tarfile.REGTYPE, "__MACOSX/big", 4 << 30),           # and decompressed every skipped byte
])
def test_tar_bombs_cost_a_bounded_subprocess_and_one_line(tmp_path, spec, kind, name, claimed, monkeypatch):
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    monkeypatch.setattr(archives.tempfile, "tempdir", str(unpacked))
    header = tarfile.TarInfo(name)
    header.type = kind
    bomb = _bz2_tar(tmp_path / "upload.tar.bz2", header, claimed)
    started = time.monotonic()
    assert archives.archive_kind(bomb) == "tar"                  # telling it from a stray file reads one block
    assert {entry.id: entry.status for entry in discover_entries(tmp_path)}[bomb.name] == "gradable"
    with pytest.raises(archives.ArchiveError, match="decompresses to more than 400 MB"):
        locate_submission(bomb, spec)
    assert time.monotonic() - started < 20
    assert not list(unpacked.iterdir())                                  # the refused unpacking is removed


def test_decompressed_junk_is_counted_as_it_is_read(tmp_path, spec, monkeypatch):
    monkeypatch.setattr(archives, "MAX_UNPACKED_BYTES", 1 << 20)       # 2 MB of stream allowed
    junk = tarfile.TarInfo("__MACOSX/junk")
    bomb = _bz2_tar(tmp_path / "junk.tar.bz2", junk, 8 << 20)
    with pytest.raises(archives.ArchiveError, match="decompresses to more than 2 MB"):
        locate_submission(bomb, spec)
    small = _bz2_tar(tmp_path / "fine.tar.bz2", tarfile.TarInfo("__MACOSX/junk"), 0)
    assert locate_submission(small, spec).present == {"layers_1.py"}


# --- parser bombs in the speedup checks' source reader ---------------------------------------------------

LAYER = """
class ConvolutionalLayer(object):
    def forward_raw(self, x):
        out = x * 0
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                out[i, j] = x[i, j]
        return out

    def forward_speedup(self, x):
        return helper(x)
"""
TARGETS = [("layers_2.py", "ConvolutionalLayer", {"raw": "forward_raw", "speedup": "forward_speedup"})]


def _lint_session(tmp_path: Path, files: dict, **limits) -> Session:
    package = tmp_path / "stu_upload"
    package.mkdir()
    for name, text in files.items():
        (package / name).write_text(text)
    session = Session(SandboxConfig(submission_dir=package, limits=Limits(**limits)))
    session.open()
    return session


def test_the_source_reader_reads_only_what_the_sandbox_copied_once_per_submission(tmp_path, monkeypatch):
    bomb = "print 'py2'\n_PAD = [" + ",".join(["1"] * 300_000) + "]\ndef helper(x):\n    return x\n"
    session = _lint_session(tmp_path, {"layers_2.py": "from .big import helper\n" + LAYER, "big.py": bomb},
                            source_file_bytes=64 << 10)
    from harness import bounded
    runs, real_run = [], bounded.run
    monkeypatch.setattr(bounded, "run", lambda *args, **kwargs: runs.append(args[0]) or real_run(*args, **kwargs))
    memo = {}
    try:
        assert "big.py" in session.scratch.refused                   # over source_file_bytes: not copied
        reports = looplint.session_reports(session, TARGETS, memo)
        raw = reports[("layers_2.py", "ConvolutionalLayer", "forward_raw")]
        fast = reports[("layers_2.py", "ConvolutionalLayer", "forward_speedup")]
        assert raw.loops_over_positions and fast.found and not any("big.py" in f for f in fast.functions)
        assert looplint.session_reports(session, TARGETS, memo) is reports and runs == ["looplint.py"]
    finally:
        session.close()


def test_a_source_reader_past_the_budget_is_an_error_charged_to_the_check(tmp_path):
    slow = "print 'py2'\n_PAD = [" + ",".join(["1"] * 150_000) + "]\n" + LAYER + "def helper(x):\n    return x\n"
    session = _lint_session(tmp_path, {"layers_2.py": slow})
    try:
        with session.budget(1.5, "check") as budget:
            started = time.monotonic()
            with pytest.raises(looplint.LintFailed, match="took more than 1.5 s") as failure:
                looplint.session_reports(session, TARGETS, {})
            assert time.monotonic() - started < 5
            assert budget.spent >= 1.5 and budget.exhausted
        assert failure.value.timed_out
    finally:
        session.close()


def test_a_speedup_check_whose_source_cannot_be_read_is_never_a_pass(tmp_path):
    from harness import api
    source = REPOSITORY / "submissions" / "aics-exp3-3" / "correct-vectorized" / "stu_upload"
    package = tmp_path / "exp" / "stu_upload"
    package.mkdir(parents=True)
    for path in source.glob("*.py"):
        text = path.read_text()
        if path.name == "layers_2.py":           # 24 KB of Python 3 that the loop reader needs seconds for
            text += QUADRATIC
        (package / path.name).write_text(text)
    result = api.check(package.parent, "aics-exp3-3", only=["conv.speedup_forward"], limits={"check_budget": "4"})
    speedup = next(check for check in result.checks if check.id == "conv.speedup_forward")
    assert speedup.status in ("error", "timeout") and speedup.points == 0
    assert "reader of the raw and speedup paths' source gave no answer" in speedup.message
    assert {check.id: check.status for check in result.checks if check.id in ("conv.forward_raw", "conv.forward_speedup")} == {
        "conv.forward_raw": "pass", "conv.forward_speedup": "pass"}, speedup.message


# each line's name is found in one pass of the reader's fixpoint over the loop's assignments: n passes of n
CHAIN = "\n".join(f"        a{k + 1} = (a{k} if False else 0)" for k in reversed(range(1000)))
QUADRATIC = f"""

_course_raw = ConvolutionalLayer.forward_raw


def _slow_to_read_raw(self, input):
    for index in range(1):
        a0 = index
{CHAIN}
    return _course_raw(self, input)


ConvolutionalLayer.forward_raw = _slow_to_read_raw
"""


# --- hidden seeds -------------------------------------------------------------------------------------

def _seeds(monkeypatch, **environment) -> dict:
    for name in ("HARNESS_SECRET", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    secret._secret.cache_clear()
    spec = load_spec("aics-exp2-1")
    return {(check.id, case.name, case.public): case.seed for check in spec.checks for case in check.cases}


def test_hidden_inputs_need_the_graders_secret_public_ones_do_not(monkeypatch, tmp_path):
    try:
        first, second = _seeds(monkeypatch, HARNESS_SECRET="one"), _seeds(monkeypatch, HARNESS_SECRET="two")
        public = [key for key in first if key[2]]
        hidden = [key for key in first if not key[2]]
        assert public and hidden
        assert all(first[key] == second[key] for key in public)            # the kit regenerates these
        assert all(first[key] != second[key] for key in hidden)
        assert secret.source() == "$HARNESS_SECRET"
        made = _seeds(monkeypatch, XDG_CONFIG_HOME=str(tmp_path / "config"))
        path = tmp_path / "config" / "nnlab-harness" / "secret"
        assert path.stat().st_mode & 0o777 == 0o600 and made == _seeds(monkeypatch, XDG_CONFIG_HOME=str(tmp_path / "config"))
        assert str(path) in secret.source() and all(made[key] == first[key] for key in public)
        path.chmod(0o644)                                                   # readable by others: not used
        assert "random secret of this run" in (_seeds(monkeypatch, XDG_CONFIG_HOME=str(tmp_path / "config"))
                                               and secret.source())
    finally:
        secret._secret.cache_clear()


def test_the_result_says_which_secret_salted_the_hidden_cases():
    from harness import api
    result = api.check(REPOSITORY / "submissions" / "aics-exp2-1" / "correct", "aics-exp2-1", only=["relu.forward"])
    assert result.resources["hidden_case_seeds"] == "salted with $HARNESS_SECRET"
    assert "nnlab-harness test suite" not in result.json_text()


# --- what a SIGKILLed grader leaves -------------------------------------------------------------------------

GRADER = """
import sys, time
sys.path.insert(0, {root!r})
from harness.sandbox import SandboxConfig, Session
session = Session(SandboxConfig(submission_dir={package!r}))
session.open()
reply = session.run({{"steps": [{{"import": "attack", "as": "m"}}, {{"call": "m.honest", "as": "out"}}],
                     "outputs": ["out"]}})
group = session._group.name if session._group else ""
print(session.scratch.session_dir, group, flush=True)
time.sleep(60)
"""


def test_scratch_and_cgroup_of_a_sigkilled_grader_are_removed_by_the_next(tmp_path):
    package = tmp_path / "stu_upload"
    package.mkdir()
    (package / "attack.py").write_text("def honest():\n    return 42\n")
    grader = subprocess.Popen([sys.executable, "-c", GRADER.format(root=str(REPOSITORY), package=str(package))],
                              stdout=subprocess.PIPE, text=True)
    try:
        left, _, group = grader.stdout.readline().strip().partition(" ")
    finally:
        grader.kill()
        grader.wait()
    left = Path(left)
    assert left.is_dir() and left.name.startswith(scratch.PREFIX)
    mine = Path(scratch.tempfile.mkdtemp(prefix=scratch.PREFIX))             # a live session's: locked
    lock = scratch._hold(mine / scratch.OWNER_FILE)
    try:
        removed = scratch.remove_stale()
        assert left.name in removed and not left.exists() and mine.exists()
    finally:
        os.close(lock)
        scratch.shutil.rmtree(mine)
    host = cgroup_host()
    if group and host.usable:
        assert group in cgroup.remove_stale(host.hierarchies)
        assert not any((hierarchy.own / group).exists() for hierarchy in host.hierarchies)


def test_stale_scratch_rules(tmp_path):
    old, fresh = tmp_path / f"{scratch.PREFIX}old", tmp_path / f"{scratch.PREFIX}fresh"
    old.mkdir()
    fresh.mkdir()
    os.utime(old, (time.time() - 3600, time.time() - 3600))           # no owner file, an hour old: left over
    (tmp_path / f"{scratch.PREFIX}link").symlink_to(fresh)
    assert scratch.remove_stale(tmp_path) == [old.name]
    assert fresh.exists() and (tmp_path / f"{scratch.PREFIX}link").is_symlink()


def test_stale_graders_are_told_by_pid_and_start_time():
    assert cgroup._alive(os.getpid(), cgroup._start_time(os.getpid()))
    assert not cgroup._alive(os.getpid(), cgroup._start_time(os.getpid()) + 1)      # the pid reused later
    membership = cgroup.parse_membership("4:memory:/a/b\n2:cpu,cpuacct:/\n0::/user.slice/x.scope\n")
    mounts = cgroup.parse_mounts(
        "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "37 31 0:34 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
    found = {h.own.as_posix(): (h.version, sorted(h.controllers)) for h in cgroup.own_hierarchies(membership, mounts)}
    assert found == {"/sys/fs/cgroup/memory/a/b": (1, ["memory"]), "/sys/fs/cgroup/cpu,cpuacct": (1, ["cpu", "cpuacct"]),
                     "/sys/fs/cgroup/unified/user.slice/x.scope": (2, ["cpu", "memory", "pids"])}
