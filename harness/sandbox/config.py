"""What a sandbox session is allowed: resource limits and the paths the child may or may not read."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .isolation import MODES as ISOLATION_MODES


@dataclass(frozen=True)
class Limits:
    """Resource limits of the child. Sizes are bytes, times seconds."""

    wall_time: float = 30.0                # per request, measured by the parent
    cpu_time: float | None = None          # CPU cap of one child's whole process tree; None: 20 x wall_time
    address_space: int = 4 << 30           # RLIMIT_AS of each process, and the tree's resident memory
    open_files: int = 64                   # RLIMIT_NOFILE
    file_size: int = 64 << 20              # RLIMIT_FSIZE: the largest file the child may write
    processes: int | None = 64             # RLIMIT_NPROC: the tree's processes and threads (under bubblewrap)
    output_bytes: int = 64 << 10           # stdout and stderr kept per request, each (head and tail)
    scratch_bytes: int = 256 << 20         # the scratch directory, submission copy included
    files_created: int = 2000              # files and directories the child may create
    python_threads: int = 16               # Python threads the submission may run at once
    reply_bytes: int = 512 << 20           # the largest reply frame the parent accepts
    source_file_bytes: int = 4 << 20       # submission files larger than this are not copied

    def session_cpu_time(self) -> float:
        return self.cpu_time if self.cpu_time else max(60.0, 20.0 * self.wall_time)


@dataclass
class SandboxConfig:
    """One session's sandbox: which submission, under which limits, seeing which files.

    ``protected_paths`` are never readable, listable or importable by the child; the
    harness and reference package directories are always added. ``readable_paths``
    (weights, images) are readable even when they lie inside a protected directory.
    """

    submission_dir: Path
    package_name: str = "stu_upload"
    limits: Limits = field(default_factory=Limits)
    threads: int = 1                       # BLAS / OpenMP threads in the child
    readable_paths: list[Path] = field(default_factory=list)
    protected_paths: list[Path] = field(default_factory=list)
    compat: bool = True                    # legacy numpy / scipy.misc shims
    isolation: str = "bwrap"               # "bwrap" | "fallback" | "process": see isolation.py
    warm_imports: tuple[str, ...] = ("numpy",)
    python: dict | None = None             # how the child loads Python 2 and undecodable files (harness.era)

    def __post_init__(self) -> None:
        self.submission_dir = Path(self.submission_dir)
        if self.isolation not in ISOLATION_MODES:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATION_MODES)}, not {self.isolation!r}")
        if not self.package_name.isidentifier():
            raise ValueError(f"package_name {self.package_name!r} is not a Python identifier")
        self.readable_paths = [Path(path) for path in self.readable_paths]
        self.protected_paths = [Path(path) for path in self.protected_paths]
