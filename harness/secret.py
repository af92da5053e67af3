"""The grader's secret, which makes the inputs of hidden cases unpredictable to anyone holding the public repository.

A case's seed is derived from names (spec.stable_seed(check id, case name)), so
anyone with the repository could regenerate a public case's inputs: the kit
needs exactly that. A hidden case's seed also mixes in a secret of the grader:

    $HARNESS_SECRET                 when set (a batch spread over machines sets the same value on each)
    <config dir>/nnlab-harness/secret
                                    otherwise: 32 random bytes made on first use, mode 0600, owned by the user
                                    ($XDG_CONFIG_HOME, else ~/.config); the same machine and user keep getting
                                    the same hidden inputs, so a batch resumed later grades alike
    a random secret for this run    when neither can be had (a read-only home): said so in the result

Results record which of these was used (``source``), never the secret. A
copied reference solution still computes the right answers; the secret only
keeps a table of answers from being prepared in advance (the similarity report
is what finds copies).
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

ENVIRONMENT = "HARNESS_SECRET"
FILE_NAME = "secret"
_salted: list[bool] = []                # set once a hidden seed was drawn in this process


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "nnlab-harness"


@functools.cache
def _secret() -> tuple[bytes, str]:
    """(the secret, where it came from in plain words)."""
    value = os.environ.get(ENVIRONMENT)
    if value:
        return value.encode("utf-8"), f"${ENVIRONMENT}"
    path = config_dir() / FILE_NAME
    try:
        return _read_or_make(path), f"the secret file {path}"
    except OSError as error:
        return (secrets.token_bytes(32),
                f"a random secret of this run ({path} could not be used: {error.strerror or error}); "
                "hidden cases will differ in the next run")


def _read_or_make(path: Path) -> bytes:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as stream:
            stream.write(secrets.token_hex(32) + "\n")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PermissionError(f"{path} must belong to this user and be readable by no one else (chmod 600)")
        value = stream.read().strip()
    if len(value) < 16:
        raise PermissionError(f"{path} holds no usable secret (fewer than 16 characters)")
    return value


def hidden_seed(*parts: str) -> int:
    """A 32-bit seed for a hidden case: HMAC-SHA256 of the names under the grader's secret."""
    key, _ = _secret()
    _salted[:] = [True]
    digest = hmac.new(key, "/".join(parts).encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "little")


def source() -> str | None:
    """Where the secret that salted this process's hidden cases came from; None when none was salted."""
    return _secret()[1] if _salted else None
