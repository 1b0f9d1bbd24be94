"""``skysift serve``'s supervisor starts the ingest loop again when it ends with an error nobody
foresaw, with a growing pause, and reports it; asked to stop, it stops."""

from __future__ import annotations

import time

import pytest

from skysift.ingest import ingest_kafka
from skysift.worker.supervise import Supervisor
import itertools


@pytest.mark.timeout(60)
def test_a_loop_that_dies_is_started_again_with_backoff(make_settings, kafka_bootstrap, caplog):
    settings = make_settings(kafka=kafka_bootstrap, batch_wait_s=0.2, notify_interval_s=0)
    starts: list[float] = []

    def target(stop, state):
        starts.append(time.monotonic())
        # librdkafka refuses this subscription pattern: a real error at start
        return ingest_kafka(settings, ["^bad-(unclosed"], group_id="g", stop=stop, state=state)

    sup = Supervisor("alerts", target).start()
    try:
        deadline = time.monotonic() + 20
        while len(starts) < 3:
            assert time.monotonic() < deadline, "the loop was not started again"
            time.sleep(0.1)
        snap = sup.state.snapshot()
        assert snap.restarts >= 2 and snap.status in ("restarting", "joining")
        assert snap.last_error and "KafkaException" in snap.last_error
        assert snap.problem is None or "started again" in snap.problem
    finally:
        sup.stop(timeout=10)
    assert not sup.thread.is_alive()
    assert sup.state.snapshot().status == "stopped"
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9, f"pauses double from 1 s: {gaps}"
    assert sum("starting it again" in r.getMessage() for r in caplog.records) >= 2
