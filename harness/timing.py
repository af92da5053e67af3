"""Speedup ratios that mean something on a shared machine.

One raw_time / speedup_time from a single run swings with whatever else the
machine does. Here the two paths are measured in alternating order (A B B A
A B ...: drift in machine load hits both sides alike), each measurement long
enough (tens of milliseconds, repeating a fast call as often as needed) that
timer resolution and per-request overhead do not matter, after a warm-up run
of each; the ratio reported is the median of the per-pair ratios, with its
spread.

A measurement is whatever the caller's functions return: seconds per call,
preferably CPU seconds of the process doing the work (CPU time does not
count the time the process waits while another job has the core).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class PairedTiming:
    """Seconds per call of path A (raw) and path B (speedup), measured in alternation."""

    a_seconds: list[float] = field(default_factory=list)
    b_seconds: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.a_seconds, self.b_seconds) if b > 0]

    @property
    def ratio(self) -> float:
        ratios = self.ratios
        return statistics.median(ratios) if ratios else math.nan

    @property
    def spread(self) -> float:
        """Relative spread of the pair ratios: (max - min) / median."""
        ratios = self.ratios
        if len(ratios) < 2:
            return 0.0
        return (max(ratios) - min(ratios)) / statistics.median(ratios)

    @property
    def coefficient_of_variation(self) -> float:
        ratios = self.ratios
        if len(ratios) < 2:
            return 0.0
        return statistics.stdev(ratios) / statistics.mean(ratios)

    @property
    def a_median(self) -> float:
        return statistics.median(self.a_seconds)

    @property
    def b_median(self) -> float:
        return statistics.median(self.b_seconds)


def measure_pairs(run_a: Callable[[], float], run_b: Callable[[], float], pairs: int) -> PairedTiming:
    """Alternate A and B ``pairs`` times (ABBA order); each call returns seconds per call of its path."""
    timing = PairedTiming()
    for index in range(pairs):
        if index % 2 == 0:
            a, b = run_a(), run_b()
        else:
            b, a = run_b(), run_a()
        timing.a_seconds.append(a)
        timing.b_seconds.append(b)
    return timing


def repetitions(seconds_per_call: float, target_seconds: float, limit: int) -> int:
    """How many calls make one measurement last about ``target_seconds``."""
    if seconds_per_call <= 0:
        return limit
    return max(1, min(limit, math.ceil(target_seconds / seconds_per_call)))
