"""The benchmarks' own measures: the pipeline benchmark's two-worker window (where every worker
is busy on its own partition, worked out by hand on offsets sampled once a second), the columnar
benchmark's container framing, and bench_instructions' counting under callgrind."""

from __future__ import annotations

import shutil
import subprocess
import sys

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


def test_the_columnar_benchmark_frames_real_alerts_as_a_container_fastavro_reads_back():
    """bench_columnar hands polars a batch as one Avro container block, the schema's named
    types written out in place; fastavro must read that container back as the same records."""
    import copy
    import io
    import json

    import fastavro
    from bench_columnar import container, written_out
    from rubin_alerts import rubin_files

    from skysift.alerts.schemas import schema_for_id

    values = [p.read_bytes() for p in rubin_files()[:5]]
    sid = int.from_bytes(values[0][1:5], "big")
    values = [v for v in values if int.from_bytes(v[1:5], "big") == sid]
    schema = schema_for_id(sid)
    out = written_out(schema)
    text = json.dumps(out)
    # every record type is defined once and never referred to by name again
    names = [t["name"] for t in _records(out)]
    assert len(names) == len(set(names)) and not set(names) & set(_references(out))
    parsed = fastavro.parse_schema(copy.deepcopy(schema))
    expected = [fastavro.schemaless_reader(io.BytesIO(v[5:]), parsed, None) for v in values]
    read_back = list(fastavro.reader(io.BytesIO(container(text.encode(),
                                                          [v[5:] for v in values]))))
    assert len(values) >= 2 and read_back == expected


def _records(t):
    if isinstance(t, list):
        for x in t:
            yield from _records(x)
    elif isinstance(t, dict):
        if t.get("type") == "record":
            yield t
            for f in t["fields"]:
                yield from _records(f["type"])
        elif t.get("type") == "array":
            yield from _records(t["items"])


def _references(t):
    """The type names a schema refers to rather than defines."""
    if isinstance(t, str):
        yield t
    elif isinstance(t, list):
        for x in t:
            yield from _references(x)
    elif t.get("type") == "record":
        for f in t["fields"]:
            yield from _references(f["type"])
    elif t.get("type") == "array":
        yield from _references(t["items"])


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_callgrind_counts_only_inside_call_tracing_one_dump_per_call(tmp_path):
    """bench_instructions' counting: Python's start-up (~17 million instructions) is not counted,
    each sys.call_tracing gives one dump, and the count follows the work done inside."""
    from bench_instructions import callgrind_command, totals

    code = ("import sys; sys.call_tracing(lambda: sum(range(1000)), ()); "
            "sys.call_tracing(lambda: sum(range(100000)), ())")
    done = subprocess.run(callgrind_command(tmp_path, [sys.executable, "-S", "-c", code]),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    small, large = totals(tmp_path)
    assert 0 < small < 1_000_000
    assert 50 * small < large < 200 * small  # 100x the iterations
