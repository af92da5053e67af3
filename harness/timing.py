"""Speedup ratios that mean something on a shared machine, and stop being measured once they are certain.

A ratio compares two paths, A (the slow one: the reference's plain loop, or in
a student kit the student's raw path) and B (the student's speedup path). They
are measured in alternating order (A B B A A B ...: drift in machine load hits
both sides alike), each measurement long enough that timer resolution does not
matter; the ratio reported is the median of the per-pair ratios, with its
spread.

Seconds are CPU seconds of whatever ran the path (the whole sandbox process
tree for the student's code, the measuring thread for the reference), checked
against wall time: when one side's median CPU share (cpu / wall) is less than
a quarter of the other side's, measured in the same conditions, that side
waited for work that was not counted (a helper process outside the
accounting, a sleep on someone else's result), and it is judged by its wall
time at the other side's share instead. A loaded machine lowers both shares
alike and changes nothing.

Sequential stopping: the verdict is the median ratio against a threshold. Once
``min_pairs`` pairs are in and every pair ratio lies on the same side of the
threshold by more than ``certain_factor`` (1.5: the pair ratios of one run
vary by a few percent, benchmarks/bench_speedup_stability.py), the median of
the remaining pairs could cross the threshold only if most later pairs moved
by that factor; measuring stops there, provided the pair ratios also agree
with each other (``max_spread``): one disturbed pair among three would move
the reported figure, though not the verdict. Otherwise pairs are added up to
``max_pairs``. Most submissions are far from the threshold (a loop is about
1x, a vectorised path 5-250x), so most stop after ``min_pairs``.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Callable

MIN_SHARE_OF_PEER = 0.25         # below this fraction of the peer's CPU share, wall time decides


@dataclass(frozen=True)
class Measurement:
    """One timed batch of ``calls`` calls: CPU and wall seconds for the whole batch."""

    cpu: float
    wall: float
    calls: int = 1

    @property
    def share(self) -> float:
        """CPU seconds per wall second (1.0: it ran all the time; 0.0: it waited all the time)."""
        return self.cpu / self.wall if self.wall > 0 else 1.0

    def per_call(self, by_wall_at_share: float | None = None) -> float:
        """Seconds per call: CPU seconds, or, when judged by wall time, wall seconds at that CPU share."""
        seconds = self.cpu if by_wall_at_share is None else max(self.cpu, self.wall * by_wall_at_share)
        return seconds / self.calls


@dataclass
class PairedTiming:
    """Path A (slow) and path B (speedup) measured in alternation; why measuring stopped.

    A side whose median CPU share is below MIN_SHARE_OF_PEER times the other side's waited for work the
    accounting did not see (an offloaded loop leaves its process idle: share near 0, while a loaded machine
    lowers both sides' shares alike): its measurements are judged by wall time at the other side's share.
    """

    a: list[Measurement] = field(default_factory=list)
    b: list[Measurement] = field(default_factory=list)
    stop_reason: str = ""

    def _wall_share(self, side: list[Measurement], peer: list[Measurement]) -> float | None:
        if not side or not peer:
            return None
        own, other = statistics.median(m.share for m in side), min(1.0, statistics.median(m.share for m in peer))
        return other if own < MIN_SHARE_OF_PEER * other else None

    @property
    def a_by_wall(self) -> bool:
        return self._wall_share(self.a, self.b) is not None

    @property
    def b_by_wall(self) -> bool:
        return self._wall_share(self.b, self.a) is not None

    @property
    def a_seconds(self) -> list[float]:
        share = self._wall_share(self.a, self.b)
        return [m.per_call(share) for m in self.a]

    @property
    def b_seconds(self) -> list[float]:
        share = self._wall_share(self.b, self.a)
        return [m.per_call(share) for m in self.b]

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
        return statistics.median(self.a_seconds) if self.a else math.nan

    @property
    def b_median(self) -> float:
        return statistics.median(self.b_seconds) if self.b else math.nan


def verdict_if_certain(ratios: list[float], threshold: float, min_pairs: int, factor: float,
                       max_spread: float = math.inf) -> str | None:
    """"above" or "below" once every ratio lies beyond ``threshold`` by ``factor`` on one side and ``min_pairs``
    of them agree with their median within half of ``max_spread`` (a disturbed pair makes the figure reported,
    not the verdict, uncertain; a few more pairs outvote it); else None."""
    if len(ratios) < min_pairs or not ratios:
        return None
    median = statistics.median(ratios)
    if sum(abs(ratio - median) <= max_spread / 2 * median for ratio in ratios) < min_pairs:
        return None
    if min(ratios) >= threshold * factor:
        return "above"
    if max(ratios) <= threshold / factor:
        return "below"
    return None


def measure_until_certain(run_a: Callable[[int], Measurement], run_b: Callable[[int], Measurement],
                          threshold: float, min_pairs: int = 3, max_pairs: int = 9, factor: float = 1.5,
                          decided: Callable[[], str] = lambda: "", max_spread: float = math.inf) -> PairedTiming:
    """Alternate A and B (ABBA order) until the verdict against ``threshold`` is certain or ``max_pairs``;
    both are called with the pair's index (0, 1, ...). ``decided()`` returns a reason when something else
    has settled the verdict (a wrong result), which stops measuring after that pair."""
    timing = PairedTiming()
    for index in range(max_pairs):
        if index % 2 == 0:
            a, b = run_a(index), run_b(index)
        else:
            b, a = run_b(index), run_a(index)
        timing.a.append(a)
        timing.b.append(b)
        if decided():
            timing.stop_reason = f"stopped after {index + 1} pairs: {decided()}"
            return timing
        side = verdict_if_certain(timing.ratios, threshold, min_pairs, factor, max_spread)
        if side is not None:
            timing.stop_reason = (f"certain after {index + 1} pairs: every pair ratio is at least {factor:g}x "
                                  f"{side} the threshold of {threshold:g}x")
            return timing
    timing.stop_reason = (f"{max_pairs} pairs, the most measured: the pair ratios came within {factor:g}x "
                          f"of the threshold of {threshold:g}x, or too few of them agreed within {max_spread / 2:.0%}")
    return timing


def repetitions(seconds_per_call: float, target_seconds: float, limit: int) -> int:
    """How many calls make one measurement last about ``target_seconds``."""
    if seconds_per_call <= 0:
        return limit
    return max(1, min(limit, math.ceil(target_seconds / seconds_per_call)))
