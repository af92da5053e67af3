"""Judging DLP probabilities against the float reference, within a bound on each probability's error.

The bound b is the spec's ``atol`` times the largest reference probability
(benchmarks/bench_dlp_quant_error.py measures it). From it:

* every probability: |p_dlp - p_ref| <= b (harness.compare does this part);
* a predicted class (first maximum, as the course's ``result.index(max(result))``)
  may differ from the reference's only if the reference gives it a probability
  within 2b of its top one: two errors of at most b can swap such a pair, no
  other;
* each of the reference's top-5 classes that stands more than 2b above the
  reference's sixth must be in the DLP's top 5.
"""
from __future__ import annotations

import numpy as np

from ..compare import Comparison


def bound(tolerance, expected: np.ndarray) -> float:
    """The largest difference a probability may show: atol times the largest reference probability."""
    return tolerance.atol * float(np.max(np.abs(expected)))


def classes(name: str, expected: np.ndarray, actual: np.ndarray, limit: float, public: bool,
            reference: str = "the float reference") -> Comparison:
    """Each row's predicted class against the reference's; expected and actual are [rows, classes]."""
    rows = np.arange(expected.shape[0])
    wanted, predicted = expected.argmax(axis=1), actual.argmax(axis=1)
    allowed = expected[rows, predicted] >= expected[rows, wanted] - 2 * limit
    metrics = {"agree": int(np.sum(predicted == wanted)), "total": int(expected.shape[0]), "bound": limit,
               "accepted_near_ties": int(np.sum(allowed & (predicted != wanted)))}
    if expected.shape[0] == 1:
        metrics["class"], metrics["reference_class"] = int(predicted[0]), int(wanted[0])
    if np.all(allowed):
        return Comparison(name, metrics=metrics)
    row = int(np.flatnonzero(~allowed)[0])
    beyond = " beyond the DLP's precision" if limit > 0 else ""
    where = f"sample {row}: " if expected.shape[0] > 1 else ""
    if public:
        detail = (f"{where}class {predicted[row]} (reference probability {expected[row, predicted[row]]:.4f}) instead "
                  f"of {wanted[row]} ({expected[row, wanted[row]]:.4f})")
    else:
        detail = f"{where}class {predicted[row]} is not the reference's class"
    return Comparison(name, "values", f"{name}: {int(np.sum(~allowed))} of {expected.shape[0]} classified differently "
                      f"from {reference}{beyond}; {detail}", metrics)


def top5(expected: np.ndarray, actual: np.ndarray, limit: float, public: bool) -> Comparison:
    """The reference's top-5 classes that no error within ``limit`` can push out must be in the DLP's top 5."""
    order = np.argsort(-expected, kind="stable")
    sixth = expected[order[5]]
    required = [int(c) for c in order[:5] if expected[c] - sixth > 2 * limit]
    theirs = [int(c) for c in np.argsort(-actual, kind="stable")[:5]]
    missing = [c for c in required if c not in theirs]
    metrics = {"overlap": len(set(theirs) & {int(c) for c in order[:5]}), "required": required, "top5": theirs}
    if not missing:
        return Comparison("top-5", metrics=metrics)
    shown = f"class {missing[0]} (reference probability {expected[missing[0]]:.4f})" if public else f"class {missing[0]}"
    return Comparison("top-5", "values", f"top-5: {shown} is missing from the top 5 {theirs}, though the DLP's "
                      "precision cannot explain its absence", metrics)
