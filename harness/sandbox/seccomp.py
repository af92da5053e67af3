"""The seccomp filter every bubblewrap child runs under: the system calls no submission needs.

Built with libseccomp (through pyseccomp, a ctypes binding with the API of
libseccomp's own Python bindings) and handed to bubblewrap as a BPF program on
a file descriptor (``bwrap --seccomp FD``); bubblewrap loads it, with
no_new_privs, just before it executes the child. libseccomp writes the
architecture checks (system calls of another ABI, e.g. i386 through int 0x80,
kill the process) and the per-architecture system-call numbers, which is why
the filter is not written by hand.

Refused with EPERM (the child sees an ordinary PermissionError):

    mounts and namespaces   mount, umount2, pivot_root, chroot, unshare, setns, the new mount API,
                            clone with any CLONE_NEW* flag (clone3, whose flags the filter cannot
                            read, fails with ENOSYS so the C library falls back to clone)
    other processes         ptrace, process_vm_readv/writev, pidfd_getfd, kcmp
    the kernel              bpf, perf_event_open, userfaultfd, keyctl, add_key, request_key,
                            (f)init_module, delete_module, kexec_*, io_uring_*, syslog, acct,
                            swapon/off, reboot, quotactl, name_to_handle_at, open_by_handle_at,
                            fanotify_init, personality
    devices                 mknod and mknodat (device nodes and fifos)
    hidden memory           memfd_create, memfd_secret, SysV shared memory (shmget, shmat), message
                            queues (msgget, mq_open) and semaphores (semget): pages or kernel buffers that
                            count in no process's resident memory, which RLIMIT_AS does not bound either
                            (a memfd written with write() held 3 GB beside a 37 MB tree); pipes are bounded
                            by the kernel per user, files by the size of the tmpfs they are in
    sockets                 socket, socketpair: the sandbox has no network (its own namespace), and a
                            socket's buffers are kernel memory outside every limit above
    fair measurement        sched_setaffinity (the parent pins the tree); setting a SIGCHLD action
                            (an ignored SIGCHLD reaps children without charging their CPU time to
                            the tree, which the parent reads from /proc)

This module runs in the parent only (it uses ctypes, which the child may not).
"""
from __future__ import annotations

import functools
import os
import signal
import tempfile

REFUSED = (
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr",
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "init_module", "finit_module",
    "delete_module", "kexec_load", "kexec_file_load", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "syslog", "acct", "swapon", "swapoff", "reboot", "quotactl", "name_to_handle_at", "open_by_handle_at",
    "fanotify_init", "personality",
    "mknod", "mknodat",
    "memfd_create", "memfd_secret", "shmget", "shmat", "msgget", "mq_open", "semget",
    "socket", "socketpair",
    "sched_setaffinity",
)
CLONE_NAMESPACE_FLAGS = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
                         "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
                         "CLONE_NEWNET": 0x40000000}


class SeccompUnavailable(RuntimeError):
    """libseccomp or its Python binding is missing: no filter can be built here."""


@functools.cache
def bpf_program() -> bytes:
    """The compiled filter (BPF bytes), built once per process; SeccompUnavailable when it cannot be."""
    try:
        import pyseccomp as seccomp          # pip install pyseccomp; needs the system's libseccomp2
    except (ImportError, OSError, AttributeError) as error:        # OSError/AttributeError: no libseccomp.so
        raise SeccompUnavailable(f"the seccomp library cannot be loaded ({type(error).__name__}: {error}); "
                                 "install libseccomp2 (apt-get install libseccomp2) and `pip install pyseccomp`")
    refuse = seccomp.ERRNO(1)                # EPERM
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in REFUSED:
        try:
            rules.add_rule(refuse, name)
        except (ValueError, OSError):        # a call this architecture does not have
            continue
    for flag in CLONE_NAMESPACE_FLAGS.values():
        rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(38), "clone3")          # ENOSYS: glibc falls back to clone
    rules.add_rule(refuse, "rt_sigaction", seccomp.Arg(0, seccomp.EQ, int(signal.SIGCHLD)),
                   seccomp.Arg(1, seccomp.NE, 0))
    with tempfile.TemporaryFile() as sink:
        rules.export_bpf(sink)
        sink.seek(0)
        return sink.read()


def program_fd() -> int:
    """A new file descriptor holding the filter, positioned at its start (for ``bwrap --seccomp FD``)."""
    program = bpf_program()
    fd = os.memfd_create("nnlab-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd
