"""Hostile submissions for `harness check` and `harness grade`: the course's correct exp 2-1 code with an
attack appended to layers_1.py.

Every attack records whether it achieved its goal; when it did, FullyConnectedLayer.forward returns
zeros, so fc.forward fails. A passing fc.forward therefore shows the attack failed (and a control test
shows the same attack aimed at something the child may touch does make fc.forward fail). Attacks that
aim at the harness itself (forged frames, sleeping, surviving) are judged by the result and by what is
left running on the host.
"""
from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
CORRECT = REPOSITORY / "submissions" / "aics-exp2-1" / "correct"
LAB = "aics-exp2-1"
# tiny budgets keep every attack that stalls short; the honest code needs well under a second per check
LIMITS = {"check_budget": "4", "submission_budget": "8"}
MARKER = "nnlab-hostile"         # the process name attack helpers give themselves, to find them on the host

PRELUDE = '''

# ---- appended by tests/hostile: the attack ---------------------------------------------------------------
import ctypes as _ctypes
import os as _os

ATTACK_SUCCEEDED = []


def _switch_off_the_audit_hook():
    for cls in object.__subclasses__():
        if cls.__name__ == "Policy" and hasattr(cls, "refuse"):
            cls.__call__ = lambda self, event, args: None


def _attempt(name, attack):
    try:
        if attack():
            ATTACK_SUCCEEDED.append(name)
    except Exception:
        pass


def _name_this_process():
    _ctypes.CDLL(None).prctl(15, b"{marker}", 0, 0, 0)          # PR_SET_NAME


_honest_forward = FullyConnectedLayer.forward


def _forward(self, input):
    output = _honest_forward(self, input)
    return output * 0 if ATTACK_SUCCEEDED else output


FullyConnectedLayer.forward = _forward
'''


def write_submission(root: Path, folder: str, attack: str, **values) -> Path:
    """A copy of the correct submission at root/folder with ``attack`` (formatted with ``values``) appended."""
    target = root / folder
    shutil.copytree(CORRECT, target)
    layers = target / "stu_upload" / "layers_1.py"
    code = PRELUDE.replace("{marker}", MARKER) + textwrap.dedent(attack).format(**values)
    layers.write_text(layers.read_text() + code)
    return target


def marked_processes() -> list[int]:
    """Host processes with a thread named by an attack helper (alive, not zombies)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            tasks = os.listdir(f"/proc/{entry}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                stat = Path(f"/proc/{entry}/task/{task}/stat").read_text()
            except OSError:
                continue
            name, state = stat[stat.index("(") + 1:stat.rindex(")")], stat.rpartition(")")[2].split()[0]
            if name == MARKER and state not in ("Z", "X"):
                found.append(int(entry))
                break
    return found
