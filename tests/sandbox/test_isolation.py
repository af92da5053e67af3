"""The OS layers under a real child: bubblewrap's fresh root, the unprivileged user, seccomp, the whole
process tree (CPU time, pinning, killing) and the wall-clock budgets."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from harness.sandbox import isolation, launch
from sandbox_helpers import assert_still_serves, run_function

PROBES = """
import ctypes
import os
import signal
import sys
import time

import numpy as np

def switch_off_the_audit_hook():
    # the child's policy is one object.__subclasses__() away: the hook is no boundary
    for cls in object.__subclasses__():
        if cls.__name__ == "Policy" and hasattr(cls, "refuse"):
            cls.__call__ = lambda self, event, args: None
            return True
    return False

def ids():
    switch_off_the_audit_hook()
    with open("/proc/self/status") as status:
        caps = [line.split()[1] for line in status if line.startswith(("CapEff", "CapPrm", "CapBnd", "NoNewPrivs",
                                                                       "Seccomp:"))]
    return np.array([os.getuid(), os.getgid(), len(os.getgroups())] + [int(cap, 16) for cap in caps])

def root_entries():
    switch_off_the_audit_hook()
    return np.frombuffer(",".join(sorted(os.listdir("/"))).encode(), dtype=np.uint8)

def visible(path):
    switch_off_the_audit_hook()
    return os.path.exists(path)

def refused_calls():
    # each entry: 1 when the call failed with a permission error
    switch_off_the_audit_hook()
    libc = ctypes.CDLL(None, use_errno=True)
    results = [libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == -1 and ctypes.get_errno() == 1,
               libc.mount(b"/", b"/", None, 32 | 4096, None) == -1,                   # MS_REMOUNT | MS_BIND
               libc.unshare(0x10000000) == -1,                                       # CLONE_NEWUSER
               libc.syscall(101, 16, 1, 0, 0) == -1]                                 # ptrace(PTRACE_ATTACH, 1)
    libc.signal.restype = ctypes.c_long
    results.append(libc.signal(int(signal.SIGCHLD), ctypes.c_void_p(1)) == -1)     # SIG_IGN: children unaccounted
    for attempt in (lambda: os.mknod("/tmp/node"), lambda: os.mkfifo("/tmp/fifo"),
                    lambda: os.sched_setaffinity(0, {0})):
        try:
            attempt()
            results.append(False)
        except PermissionError:
            results.append(True)
    return np.array(results)

def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

def offload(seconds, keep_alive):
    # the work runs in forked helpers: one exits before the reply, one (optionally) lives on after its work
    switch_off_the_audit_hook()
    pid = os.fork()
    if pid == 0:
        burn(seconds)
        os._exit(0)
    os.waitpid(pid, 0)
    if keep_alive:
        read, write = os.pipe()
        if os.fork() == 0:
            burn(seconds)
            os.write(write, b"x")
            time.sleep(3600)
            os._exit(0)
        os.read(read, 1)
    return 1

def affinity():
    switch_off_the_audit_hook()
    read, write = os.pipe()
    if os.fork() == 0:
        os.write(write, bytes(sorted(os.sched_getaffinity(0))))
        os._exit(0)
    helper = list(os.read(read, 64))
    return np.array([sorted(os.sched_getaffinity(0)), helper])

def sleep(seconds):
    time.sleep(seconds)
    return 1
"""


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    from harness.sandbox import Limits, SandboxConfig, Session
    package = tmp_path_factory.mktemp("isolation") / "stu_upload"
    package.mkdir()
    (package / "probes.py").write_text(PROBES)
    (package / "honest.py").write_text("def double(x):\n    return 2 * x\n")
    with Session(SandboxConfig(submission_dir=package, limits=Limits(wall_time=20.0))) as session:
        yield session


def test_the_child_is_an_unprivileged_user_without_capabilities_under_seccomp(probes):
    reply = run_function(probes, "probes", "ids")
    assert reply.status == "ok", (reply.error, reply.stderr)
    uid, gid, groups, cap_eff, cap_prm, cap_bnd, no_new_privs, seccomp_mode = reply.values["out"]
    assert uid != 0 and gid != 0 and groups == 0
    assert cap_eff == cap_prm == 0 and no_new_privs == 1 and seccomp_mode == 2
    if os.geteuid() == 0:
        assert cap_bnd == 0 and uid >= 1_900_000_000             # a user id of the sandbox's own
    record = probes.summary()["isolation"]
    assert record["mode"] == "bwrap" and record["tool"] == "bubblewrap" and "seccomp" in record["layers"]


def test_the_root_holds_only_what_the_child_needs(probes):
    reply = run_function(probes, "probes", "root_entries")
    system = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "sys", "tmp", "usr"}
    # the Python installation is bound where it lives: /usr, pyenv's /root, or a .venv inside a checkout
    installation = {Path(root).parts[1] for root in launch.python_roots()}
    assert set(reply.values["out"].tobytes().decode().split(",")) <= system | installation
    repository = Path(__file__).resolve().parents[2]
    for path in (repository / ".git", repository / "reference", repository / "specs",
                 Path(isolation.__file__).parent, Path("/etc/passwd")):
        reply = run_function(probes, "probes", "visible", str(path))
        assert reply.status == "ok" and not reply.values["out"], path
    assert run_function(probes, "probes", "visible", str(probes.scratch.package_dir / "probes.py")).values["out"]


def test_mounts_namespaces_ptrace_device_nodes_and_pinning_are_refused_by_the_kernel(probes):
    reply = run_function(probes, "probes", "refused_calls")
    assert reply.status == "ok", (reply.error, reply.stderr)
    assert reply.values["out"].all(), reply.values["out"]
    assert_still_serves(probes)


def test_cpu_time_counts_forked_helpers_alive_or_exited(probes):
    reply = run_function(probes, "probes", "offload", 0.6, False)
    assert reply.status == "ok", (reply.error, reply.stderr)
    assert reply.cpu_time >= 0.5, reply.cpu_time              # the helper's, though it exited before the reply
    alive = run_function(probes, "probes", "offload", 0.4, True)
    assert alive.status == "ok" and alive.cpu_time >= 0.7, alive.cpu_time
    helpers = [info.pid for info in probes._child.tree.processes()][3:]   # bwrap, its init, python, then helpers
    assert helpers
    probes.close()                                             # the helper still burning dies with the session
    time.sleep(0.2)
    assert not any(_alive(pid) for pid in helpers)


def test_set_affinity_pins_the_whole_tree(probes):
    cpus = sorted(os.sched_getaffinity(0))
    try:
        probes.set_affinity({cpus[0]})
        reply = run_function(probes, "probes", "affinity")
        assert reply.status == "ok", (reply.error, reply.stderr)
        assert reply.values["out"].tolist() == [[cpus[0]], [cpus[0]]]
        probes.close()                                         # a new child starts pinned too
        assert run_function(probes, "probes", "affinity").values["out"].tolist() == [[cpus[0]], [cpus[0]]]
    finally:
        probes.set_affinity(None)
    assert run_function(probes, "probes", "affinity").values["out"][0].tolist() == cpus


def test_requests_share_the_budgets_they_run_in(probes):
    started = time.monotonic()
    with probes.budget(30.0, "submission") as whole, probes.budget(1.5, "check") as check:
        first = run_function(probes, "probes", "sleep", 1.0)
        second = run_function(probes, "probes", "sleep", 1.0)
        third = run_function(probes, "probes", "sleep", 0.01)
    assert first.status == "ok"
    assert second.status == "timeout" and "the check's time budget of 1.5 s ran out" in second.detail
    assert third.status == "timeout" and "already spent" in third.detail and not third.new_child
    assert check.exhausted and not whole.exhausted and 1.4 < whole.spent < 3.0
    assert time.monotonic() - started < 4.0
    assert_still_serves(probes)


def test_bwrap_refuses_plainly_when_bubblewrap_cannot_be_used(monkeypatch, submission, open_session):
    missing = isolation.Probe(None, None, f"bubblewrap (bwrap) is not installed: {isolation.INSTALL_HINT}",
                              os.geteuid() == 0, None, None)
    monkeypatch.setattr(isolation, "probe", lambda: missing)
    from harness.sandbox import SandboxError
    with pytest.raises(SandboxError, match="apt-get install bubblewrap"):
        open_session(submission())
    fallback = open_session(submission(), isolation="fallback")
    assert_still_serves(fallback)
    record = fallback.summary()["isolation"]
    assert record["in_force"].startswith("process") and "not installed" in record["notes"][0]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_check_and_grade_exit_2_saying_how_to_install_bubblewrap(monkeypatch, capsys, tmp_path):
    from harness import cli
    missing = isolation.Probe(None, None, f"bubblewrap (bwrap) is not installed: {isolation.INSTALL_HINT}",
                              os.geteuid() == 0, None, None)
    monkeypatch.setattr(isolation, "probe", lambda: missing)
    correct = Path(__file__).resolve().parents[2] / "submissions" / "aics-exp2-1"
    for argv in (["check", str(correct / "correct"), "--lab", "aics-exp2-1"],
                 ["grade", str(correct), "--lab", "aics-exp2-1", "--out", str(tmp_path / "out")]):
        assert cli.main(argv) == 2
        error = capsys.readouterr().err
        assert "apt-get install bubblewrap" in error and "--isolation fallback" in error
        assert len(error.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


TREE_HOGS = PROBES + """
def fork_many(count):
    switch_off_the_audit_hook()
    started = 0
    for _ in range(count):
        try:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            started += 1
        except OSError:
            break
    return started

def hog(helpers, megabytes, spin):
    # every helper stays under the per-process limits; together they do not
    switch_off_the_audit_hook()
    for _ in range(helpers):
        if os.fork() == 0:
            block = np.ones(megabytes << 17)          # megabytes of float64, touched
            while spin or True:
                if spin:
                    block[0] += 1
                else:
                    time.sleep(0.05)
    time.sleep(30)
"""


@pytest.fixture
def hogs(submission, open_session):
    def open_(**limits):
        return open_session(submission(**{"probes.py": TREE_HOGS}), limits=limits)
    return open_


def test_processes_are_limited_for_the_whole_tree(hogs):
    session = hogs(processes=24)
    reply = run_function(session, "probes", "fork_many", 200)
    assert reply.status == "ok" and 5 < reply.values["out"] < 24, reply.values.get("out")
    assert_still_serves(session)


def test_memory_is_limited_for_the_whole_tree(hogs):
    session = hogs(address_space=768 << 20)
    reply = run_function(session, "probes", "hog", 3, 300, False, timeout=20)
    assert reply.status == "blocked", (reply.status, reply.detail)
    assert "held more than 768 MB of memory together" in reply.detail
    assert_still_serves(session)


def test_cpu_time_is_limited_for_the_whole_tree(hogs):
    session = hogs(cpu_time=1)
    reply = run_function(session, "probes", "hog", 2, 1, True, timeout=20)
    assert reply.status == "blocked" and "used more than 1 s of CPU time together" in reply.detail, reply.detail
    assert reply.wall_time < 15
