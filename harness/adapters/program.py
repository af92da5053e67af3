"""Build the straight-line programs the sandbox child interprets.

A program is JSON data ({"steps": [...], "outputs": [...]}) naming what to
import, construct, call and read; the arrays travel beside it. Writing them
through this builder keeps adapters readable:

    program = Program()
    program.import_module("layers_2", as_="module")
    program.call("module.ConvolutionalLayer", 3, 3, 8, 1, 1, as_="layer")
    program.call("layer.forward_raw", ref("x"), as_="output")
    program.output("output")
"""
from __future__ import annotations


def ref(name: str) -> dict:
    """An expression that reads a name from the child's namespace."""
    return {"ref": name}


def tuple_(*items) -> dict:
    return {"tuple": list(items)}


class Program:
    def __init__(self) -> None:
        self.steps: list[dict] = []
        self.outputs: list[str] = []

    def import_module(self, module: str, as_: str) -> "Program":
        self.steps.append({"import": module, "as": as_})
        return self

    def call(self, target: str, *args, as_: str | None = None, **kwargs) -> "Program":
        step = {"call": target, "args": list(args), "kwargs": kwargs}
        if as_:
            step["as"] = as_
        self.steps.append(step)
        return self

    def repeat_call(self, target: str, *args, times: int) -> "Program":
        """``times`` calls of ``target(*args)`` as one step (a timing loop: one progress report, not ``times``)."""
        self.steps.append({"call": target, "args": list(args), "kwargs": {}, "repeat": times})
        return self

    def get(self, target: str, as_: str) -> "Program":
        self.steps.append({"get": target, "as": as_})
        return self

    def set(self, target: str, value) -> "Program":
        self.steps.append({"set": target, "value": value})
        return self

    def item(self, source: str, key, as_: str) -> "Program":
        self.steps.append({"item": source, "key": key, "as": as_})
        return self

    def seed(self, value: int) -> "Program":
        self.steps.append({"seed": int(value)})
        return self

    def copy(self, source: str, as_: str) -> "Program":
        self.steps.append({"copy": source, "as": as_})
        return self

    def chain(self, layers: str, names: str, input_, *, capture, method: str = "forward",
              until: str | None = None, as_: str) -> "Program":
        spec = {"layers": layers, "names": names, "input": input_, "method": method,
                "capture": list(capture), "as": as_}
        if until:
            spec["until"] = until
        self.steps.append({"chain": spec})
        return self

    def output(self, *names: str) -> "Program":
        self.outputs.extend(names)
        return self

    def to_dict(self) -> dict:
        return {"steps": list(self.steps), "outputs": list(self.outputs)}
