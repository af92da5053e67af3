"""Which failing check explains another one, so that a report shows the root cause first.

A failing check X is explained by another failing check Y when X ran the code that Y found wrong:

* Y's code (the methods its target names for the roles that compute, e.g. layers_2.ConvolutionalLayer's
  forward_speedup) is part of X's code, and smaller than it (conv.backward_raw fails because of the
  forward_raw it calls), or the same code checked earlier in the spec (a finite-difference check of a
  backward that conv.backward_raw already found wrong);
* or X runs a container of layers (the student's VGG19 in style_transfer.run or vgg19.classify) whose
  layers are bound to Y's methods. Which methods they are bound to is asked of the submission after the
  run (the constructor's ``type`` switch decides it: the course's templates suggest type=1, the speedup
  paths), by building the container without running it.

Checks that judge speed never explain another check's failure. X gets ``root_cause`` = Y's id (the
deepest explanation when Y is itself explained) and a diagnosis that says why; ``report_order`` puts
every root cause right before the first check it explains.
"""
from __future__ import annotations

from .adapters import registry
from .adapters.program import Program

FAILING = ("fail", "error", "timeout")
SETUP_ROLES = frozenset({"init", "load", "build", "load_image"})
SPEED_KINDS = frozenset({"aics.speedup"})
# Kinds whose target holds its layers in .layers, named by .param_layer_name, and which attributes of a
# layer they call (the course's VGG19 classes).
CONTAINER_KINDS = {"aics.style_transfer.run": ("forward", "backward"), "aics.vgg19.classify": ("forward",)}


def static_code(check) -> frozenset:
    """(module, class, method) of each method the check calls after building its object (a kind's
    ``called_methods(check)``, else the target's methods for the kind's roles other than setup ones)."""
    target = check.target
    kind = registry.get(check.kind)
    if target is None or not target.class_name or kind is None:
        return frozenset()
    if hasattr(kind, "called_methods"):
        names = kind.called_methods(check)
    else:
        names = [target.method(role) for role in getattr(kind, "roles", ()) if role not in SETUP_ROLES]
    return frozenset((target.module, target.class_name, name) for name in names)


def attribute_root_causes(results: list, spec, session=None, run_context=None) -> None:
    """Set ``root_cause`` (and say why in ``diagnosis``) on every failing result another failing check explains.

    ``session`` (still open) lets container checks ask the submission which methods their layers use;
    without it only the checks' own targets are compared.
    """
    checks = {check.id: check for check in spec.checks}
    order = [result.id for result in results]
    failing = [result for result in results if result.status in FAILING and result.id in checks]
    explainers = [result for result in failing if checks[result.id].kind not in SPEED_KINDS
                  and static_code(checks[result.id])]
    direct: dict[str, tuple[str, str]] = {}
    for result in failing:
        found = _explainer(checks[result.id], result, explainers, checks, order, session, run_context)
        if found:
            direct[result.id] = found
    by_id = {result.id: result for result in results}
    for check_id, (cause, reason) in direct.items():
        ultimate, seen = cause, {check_id}
        while ultimate in direct and ultimate not in seen:
            seen.add(ultimate)
            ultimate = direct[ultimate][0]
        result = by_id[check_id]
        result.root_cause = ultimate
        through = f" (itself explained by {ultimate})" if ultimate != cause else ""
        words = f"this probably follows from {cause}{through}, which failed: {reason}; fix that first"
        result.diagnosis = words + (f"\n{result.diagnosis}" if result.diagnosis else "")


def _explainer(check, result, explainers, checks, order, session, run_context):
    own = static_code(check)
    position = order.index(result.id)
    for candidate in explainers:
        if candidate.id == result.id:
            continue
        code = static_code(checks[candidate.id])
        if own and code < own:
            return candidate.id, f"{check.id} calls {_words(code)}, which {candidate.id} found wrong"
        if own and code == own and order.index(candidate.id) < position:
            return candidate.id, f"it runs the same code ({_words(code)})"
    if check.kind in CONTAINER_KINDS and session is not None:
        used = _container_code(check, explainers, checks, session, run_context)
        for candidate in explainers:
            code = static_code(checks[candidate.id])
            if candidate.id != result.id and code and code <= used:
                return candidate.id, (f"your {check.target.class_name} builds its layers so that they run "
                                      f"{_words(code)}{_type_words(code)}, which {candidate.id} found wrong")
    return None


def _container_code(check, explainers, checks, session, run_context) -> frozenset:
    """The (module, class, method) the container's layers are bound to, among the explainers' methods."""
    wanted = sorted({entry for candidate in explainers for entry in static_code(checks[candidate.id])})
    if not wanted:
        return frozenset()
    classes = sorted({f"{module}.{class_name}" for module, class_name, _ in wanted})
    among = sorted({method for _, _, method in wanted})
    attributes = list(CONTAINER_KINDS[check.kind])
    program = Program().import_module(check.target.module, as_="module")
    weights = getattr(getattr(run_context, "lab", None), "weights_path", None)
    kwargs = {"param_path": str(weights)} if weights else {}
    program.call(f"module.{check.target.class_name}", as_="container", **kwargs)
    program.call(f"container.{check.target.methods.get('build', 'build_model')}")
    program.steps.append({"bound": {"layers": "container.layers", "names": "container.param_layer_name",
                                    "classes": classes, "attributes": attributes, "among": among, "as": "bound"}})
    program.output("bound")
    try:
        reply = session.run(program.to_dict(), {}, timeout=check.timeout, fresh=True)
    except Exception:                   # a probe that cannot run explains nothing; the results stand as they are
        return frozenset()
    table = reply.values.get("bound") if reply.status == "ok" else None
    if table is None or getattr(table, "ndim", 0) != 2 or table.shape[1] != 1 + len(attributes):
        return frozenset()
    used = set()
    for row in table.tolist():
        if not 0 <= row[0] < len(classes):
            continue
        module, class_name = classes[row[0]].rsplit(".", 1)
        used.update((module, class_name, among[index]) for index in row[1:] if 0 <= index < len(among))
    return frozenset(used)


def _words(code) -> str:
    return ", ".join(f"{class_name}.{method}" for _, class_name, method in sorted(code))


def _type_words(code) -> str:
    return " (built with type=1, the speedup path)" if any("speedup" in method for *_, method in code) else ""


def report_order(checks: list) -> list:
    """The checks in spec order, except that a root cause comes right before the first check it explains."""
    ordered = list(checks)
    for check in checks:
        cause = getattr(check, "root_cause", None)
        if not cause:
            continue
        positions = {item.id: index for index, item in enumerate(ordered)}
        if cause in positions and positions[cause] > positions[check.id]:
            moved = ordered.pop(positions[cause])
            ordered.insert(positions[check.id], moved)
    return ordered
