"""Small builders for programs and the check that a session still serves honest requests."""
from __future__ import annotations

import numpy as np

from harness.sandbox import Session


def program(*steps, outputs=()) -> dict:
    return {"steps": list(steps), "outputs": list(outputs)}


def call(target: str, *args, as_: str | None = None, **kwargs) -> dict:
    step = {"call": target, "args": list(args), "kwargs": kwargs}
    if as_:
        step["as"] = as_
    return step


def ref(name: str) -> dict:
    return {"ref": name}


def run_function(session: Session, module: str, function: str, *args, timeout: float | None = None, **arrays):
    """Import ``module`` and call ``module.function(*args)``; the result is output "out"."""
    steps = program({"import": module, "as": "m"}, call(f"m.{function}", *args, as_="out"), outputs=["out"])
    return session.run(steps, arrays, timeout=timeout)


def assert_still_serves(session: Session) -> None:
    reply = session.run(program({"import": "honest", "as": "h"}, call("h.double", ref("x"), as_="y"), outputs=["y"]),
                        {"x": np.arange(3.0)})
    assert reply.status == "ok", (reply.status, reply.detail, reply.error, reply.stderr)
    np.testing.assert_array_equal(reply.values["y"], [0.0, 2.0, 4.0])
