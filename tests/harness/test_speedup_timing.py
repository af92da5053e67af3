"""The statistics of speedup timing (harness.timing) and the gate that serialises it across a batch's
workers (harness.timing_gate), without a sandbox: synthetic measurements, real locks."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

from harness.timing import Measurement, PairedTiming, measure_until_certain, verdict_if_certain
from harness.timing_gate import LocalGate, LockFileGate, pinned_thread


def _series(a_values, b_values, order):
    """run_a / run_b returning the given seconds per pair, recording the call order."""
    def run_a(index):
        order.append(("a", index))
        return Measurement(a_values[index], a_values[index], 1)

    def run_b(index):
        order.append(("b", index))
        return Measurement(b_values[index], b_values[index], 1)
    return run_a, run_b


def test_far_from_the_threshold_stops_after_min_pairs_in_abba_order():
    order = []
    timing = measure_until_certain(*_series([1.0] * 9, [0.01] * 9, order), threshold=2.0, min_pairs=3, max_pairs=9)
    assert len(timing.ratios) == 3 and timing.ratio == pytest.approx(100.0)
    assert order == [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2), ("b", 2)]
    assert "certain after 3 pairs" in timing.stop_reason and "above" in timing.stop_reason


def test_a_loop_is_certainly_below_and_a_near_ratio_takes_every_pair():
    below = measure_until_certain(*_series([1.0] * 9, [1.1] * 9, []), threshold=2.0)
    assert len(below.ratios) == 3 and "below" in below.stop_reason
    near = measure_until_certain(*_series([1.0] * 9, [0.4, 0.6] * 5, []), threshold=2.0, max_pairs=9)
    assert len(near.ratios) == 9 and "9 pairs" in near.stop_reason and near.ratio == pytest.approx(2.5)


def test_one_pair_on_the_other_side_keeps_measuring():
    assert verdict_if_certain([10.0, 10.0, 2.5], 2.0, 3, 1.5) is None
    assert verdict_if_certain([10.0, 10.0], 2.0, 3, 1.5) is None          # fewer than min_pairs
    assert verdict_if_certain([10.0, 3.0, 4.0], 2.0, 3, 1.5) == "above"


def test_work_the_accounting_does_not_see_is_judged_by_wall_time():
    # the speedup path's process idles while a helper outside the accounting runs the loop (1 s per call)
    offloaded = PairedTiming(a=[Measurement(1.0, 1.0)] * 3, b=[Measurement(0.01, 1.0)] * 3)
    assert offloaded.b_by_wall and offloaded.ratio == pytest.approx(1.0)
    # a loaded machine: both sides get a third of a core; CPU time decides
    loaded = PairedTiming(a=[Measurement(1.0, 3.0)] * 3, b=[Measurement(0.01, 0.04)] * 3)
    assert not loaded.b_by_wall and loaded.ratio == pytest.approx(100.0)
    # a vectorised path waiting on its pipe for a share of its request stays judged by CPU
    transfer = PairedTiming(a=[Measurement(1.0, 1.0)] * 3, b=[Measurement(0.006, 0.01)] * 3)
    assert not transfer.b_by_wall


def test_measurements_per_call():
    batch = Measurement(cpu=0.2, wall=0.25, calls=20)
    assert batch.per_call() == pytest.approx(0.01) and batch.share == pytest.approx(0.8)
    assert Measurement(0.0, 1.0, 2).per_call(0.9) == pytest.approx(0.45)


LOCK_HOLDER = textwrap.dedent("""
    import fcntl, os, sys, time
    descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
""")


def test_the_lock_file_gate_waits_for_another_process_measuring(tmp_path):
    lock = tmp_path / "out" / ".timing.lock"
    lock.parent.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(lock), "0.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        gate = LockFileGate(lock)
        started = time.perf_counter()
        with gate.measuring() as cpu:
            waited = time.perf_counter() - started
        assert waited >= 0.2 and gate.waited_seconds == pytest.approx(waited, abs=0.05)
        assert cpu in os.sched_getaffinity(0)
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_workers_lock_is_released(tmp_path):
    lock = tmp_path / ".timing.lock"
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(lock), "60"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    gate = LockFileGate(lock)
    with gate.measuring():
        pass
    assert gate.waited_seconds < 1.0


def test_gates_name_a_cpu_and_the_others_for_other_work(tmp_path):
    cpus = sorted(os.sched_getaffinity(0))
    for gate in (LocalGate(), LockFileGate(tmp_path / "lock")):
        with gate.measuring() as cpu:
            assert cpu == cpus[-1]
        others = gate.other_cpus()
        assert others is None if len(cpus) < 2 else others == set(cpus[:-1])
    with LocalGate(cpu=None).measuring() as cpu:
        assert cpu is None


def test_pinning_the_measuring_thread_is_undone():
    before = os.sched_getaffinity(0)
    cpu = sorted(before)[-1]
    with pinned_thread(cpu) as pinned:
        assert pinned and os.sched_getaffinity(0) == {cpu}
    assert os.sched_getaffinity(0) == before
    with pinned_thread(None) as pinned:
        assert not pinned


def test_a_disturbed_pair_is_outvoted_before_stopping():
    """Far above the threshold, but one pair of three disturbed: more pairs, so the figure is the median of
    agreeing pairs (the verdict was never in doubt)."""
    timing = measure_until_certain(*_series([1.0] * 9, [0.01, 0.025, 0.01, 0.01, 0.011, 0.01, 0.01, 0.01, 0.01], []),
                                   threshold=2.0, max_spread=0.5)
    assert 3 < len(timing.ratios) < 9 and timing.ratio == pytest.approx(100.0)
