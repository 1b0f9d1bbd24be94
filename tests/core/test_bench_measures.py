"""The pipeline benchmark's two-worker measure: the window where every worker is busy on its own
partition, worked out by hand on offsets sampled once a second."""

from __future__ import annotations

import pytest
from bench_pipeline import scale_rates


def offsets_at(t: float, commits: list[tuple[float, int]]) -> int:
    return max((off for ts, off in commits if ts <= t), default=0)


def test_the_busy_window_runs_from_every_partition_moving_to_the_first_partition_done():
    # partition 0 commits 1,000 alerts at t = 2, 6, 10, 14; partition 1 at t = 4, 8, 12
    p0 = [(2.0, 1000), (6.0, 2000), (10.0, 3000), (14.0, 4000)]
    p1 = [(4.0, 1000), (8.0, 2000), (12.0, 3000)]
    samples = [(float(t), [offsets_at(t, p0), offsets_at(t, p1)]) for t in range(0, 16)]
    busy, whole, elapsed = scale_rates(samples, 2)
    # every partition has moved at t = 4 (2,000 committed); partition 1 is done at t = 12
    # (6,000 committed: 3,000 + 3,000): 4,000 alerts in 8 s
    assert (busy, elapsed) == (pytest.approx(500.0), pytest.approx(8.0))
    # first to last commit: t = 2 (1,000) to t = 14 (7,000)
    assert whole == pytest.approx(6000 / 12)


def test_one_partition_is_measured_from_its_first_move_to_its_last():
    p0 = [(3.0, 500), (5.0, 1500), (9.0, 2000)]
    samples = [(float(t), [offsets_at(t, p0)]) for t in range(0, 11)]
    busy, whole, elapsed = scale_rates(samples, 1)
    assert (busy, whole, elapsed) == (pytest.approx(1500 / 6), pytest.approx(1500 / 6),
                                      pytest.approx(6.0))


def test_no_commit_after_the_first_sample_gives_no_rate_rather_than_an_error():
    busy, whole, elapsed = scale_rates([(0.0, [5, 5]), (1.0, [5, 5])], 2)
    assert busy != busy and whole != whole and elapsed == 0.0  # NaN, NaN
