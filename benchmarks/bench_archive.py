"""The alert archive's codec: bytes and write time per alert, null vs deflate vs zstandard.

The same synthetic night as bench_pipeline (real LSSTCam alerts with realistic histories), as the
pipeline archives it: each framed message with its cutouts nulled (spliced, not re-encoded),
one Avro block per 1,000-alert batch. Times are the best of three, on one core, and are given
beside the splice cost and fastavro's full decode of the same alerts (the pipeline's reference).
"""

from __future__ import annotations

import io
import sys
import time

import fastavro
from bench_pipeline import encode_night, fastavro_rate

from skysift.alerts.decode import decode_message
from skysift.alerts.model import AlertOrigin
from skysift.archive import ARCHIVE_SCHEMA


def main() -> int:
    night = encode_night(2000, seed=1)
    alerts = [decode_message(v, AlertOrigin(topic="t", partition=0, offset=i))
              for i, (v, _) in enumerate(night)]
    framed = sum(len(v) for v, _ in night) / len(alerts)
    t = time.perf_counter()
    kept = [a.without_cutouts() or b"" for a in alerts]
    splice_us = (time.perf_counter() - t) / len(alerts) * 1e6
    print(f"{len(alerts)} alerts: {framed:.0f} bytes framed, {sum(map(len, kept)) / len(kept):.0f}"
          f" without cutouts; cutting them out {splice_us:.1f} us per alert")
    records = [{"message": m, "diaSourceId": a.diaSourceId, "diaObjectId": a.diaObjectId,
                "midpointMjdTai": a.diaSource["midpointMjdTai"], "schema_version": "9.0",
                "batch": "bench:1", "ingested_ms": 0, "topic": "t", "partition": 0,
                "offset": i, "path": None, "index": None}
               for i, (a, m) in enumerate(zip(alerts, kept, strict=True))]
    decode_us = 1e6 / fastavro_rate(night)
    print(f"fastavro's full decode of the same alerts: {decode_us:.0f} us per alert")
    for codec in ("null", "deflate", "zstandard"):
        best = float("inf")
        size = 0
        for _ in range(3):
            buf = io.BytesIO()
            t = time.perf_counter()
            writer = fastavro.write.Writer(buf, ARCHIVE_SCHEMA, codec=codec)
            for i in range(0, len(records), 1000):
                for r in records[i:i + 1000]:
                    writer.write(r)
                writer.flush()
            best = min(best, time.perf_counter() - t)
            size = len(buf.getvalue())
        us = best / len(records) * 1e6
        print(f"{codec:>9}: {size / len(records):6.0f} bytes per alert, write {us:6.1f} us per "
              f"alert = {us / decode_us:.3f}x fastavro's full decode of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
