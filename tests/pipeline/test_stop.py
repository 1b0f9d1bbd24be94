"""A StopFlag set while ingesting ends the Kafka loop after the batch (Ctrl-C, SIGTERM)."""

from __future__ import annotations

import threading
import time

from skysift.ingest import StopFlag, ingest_kafka


def test_setting_the_stop_flag_ends_ingest(make_settings, kafka_bootstrap, unique_name):
    settings = make_settings(kafka=kafka_bootstrap, batch_wait_s=0.2)
    stop = StopFlag()
    threading.Timer(6.0, stop.event.set).start()
    t0 = time.monotonic()
    totals = ingest_kafka(settings, [unique_name("quiet")], group_id=unique_name("g"), stop=stop)
    assert time.monotonic() - t0 < 20  # without the flag it would run forever
    assert totals.ingested == 0
