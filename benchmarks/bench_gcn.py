"""GCN listener latency: from a notice's arrival on Kafka to all its products on disk.

Starts an embedded broker, a listener (in-process thread, as the daemon runs it), produces the real
MS181101ab notice (BAYESTAR, orders 4-11) and the S230518h notice (PE map, orders 4-9), and times
from the produce call to the moment the alert directory (complete: FITS, meta.yaml, CSV nside 64,
PNG, MOCs, notice) is in place. One warm-up alert first, so imports are not counted; the cold
figure (first alert of a fresh listener) is printed too. Target: <= 2 s each, plot included.
"""

from __future__ import annotations

import json
import lzma
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LVK = HERE.parent / "tests" / "data" / "lvk"
TARGET_S = 2.0


def _notice(stem: str) -> dict:
    return json.loads(lzma.decompress((LVK / f"{stem}.json.xz").read_bytes()))


def _variant(doc: dict, i: int) -> bytes:
    d = dict(doc, time_created=f"2030-01-01T00:00:{i:02d}Z")
    return json.dumps(d).encode()


def _wait(path: Path, timeout: float = 120.0) -> float:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.002)
    return time.perf_counter()


def main() -> int:
    import yaml
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from skysift.gcn.listen import listen
    from skysift.gcn.settings import load_gcn_settings
    from skysift.gcn.state import ListenerState
    from skysift.streams.embedded import EmbeddedBroker

    work = Path(tempfile.mkdtemp(prefix="bench-gcn-"))
    with EmbeddedBroker() as broker:
        topic = "igwn.gwalert.bench"
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
        settings_path = work / "gcn.yaml"
        settings_path.write_text(yaml.safe_dump({
            "gcn-kafka": {"topic": topic, "kafka": {"bootstrap.servers": broker.bootstrap}},
            "lvk": {"parse_mock_events": True, "parse_real_events": True,
                    "download_dir": str(work / "events")},
            "plugins": {"enabled": False}}))
        settings = load_gcn_settings(settings_path)
        stop = threading.Event()
        state = ListenerState(work / "state.json", os.getpid())
        t = threading.Thread(target=listen, args=(settings,), kwargs={"stop": stop, "state": state},
                             daemon=True)
        t.start()
        while state.data.get("status") != "running":
            time.sleep(0.05)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 8 << 20,
                             "log_level": 0})
        cases = [("MS181101ab", "MS181101ab-earlywarning", "mockevents", "earlywarning"),
                 ("S230518h", "S230518h-initial", "superevents", "initial")]
        results: dict[str, list[float]] = {}
        for i, (label, stem, kind, atype) in enumerate(cases * 4, start=1):  # first round: cold
            doc = _notice(stem)
            target = work / "events" / kind / doc["superevent_id"] / f"20300101T0000{i:02d}_{atype}"
            start = time.perf_counter()
            producer.produce(topic, _variant(doc, i))
            producer.flush(10)
            results.setdefault(label, []).append(_wait(target) - start)
        stop.set()
        t.join(30)
    print(f"{'notice':<12} {'cold s':>7} {'warm median s':>14} {'target s':>9} {'ratio':>6}")
    for label, times in results.items():
        warm = sorted(times[1:])[len(times[1:]) // 2]
        print(f"{label:<12} {times[0]:7.2f} {warm:14.2f} {TARGET_S:9.1f} {warm / TARGET_S:6.2f}")
    print("(cold = the first alert after the listener started; the listener imports the plotting "
          "stack at start; products: FITS, meta.yaml, skymap.csv nside 64, skymap.png, "
          "MOC 50/90 FITS+JSON, notice)")
    _gocart(results)
    return 0


_GOCART_SCRIPT = r"""
import json, logging, lzma, sys, tempfile, time
from gocart.parsers import lvk
log = logging.getLogger("gocart"); log.addHandler(logging.NullHandler())
out = []
for stem in sys.argv[1:]:
    record = lzma.decompress(open(stem, "rb").read()).decode()
    times = []
    for i in range(3):
        settings = {"lvk": {"parse_mock_events": True, "parse_real_events": True,
                            "download_dir": tempfile.mkdtemp(),
                            "aitoff": {"convert": True, "sun_moon": True, "sun_moon_contour": True,
                                       "galactic_plane": True},
                            "ascii_map": {"convert": True, "nside": 64}, "json": False}}
        t = time.perf_counter()
        lvk(log, record, settings=settings, plugins=False).parse()
        times.append(time.perf_counter() - t)
    out.append(times)
print(json.dumps(out))
"""


def _gocart(results: dict[str, list[float]]) -> None:
    """Time gocart's own parser (0.4.x) on the same notices, when it is installed in a scratch venv.

    gocart is called in-process in its own venv (no Kafka): parse() of the notice text to all its
    products, cold (first call) and warm (median of the next two).
    """
    venv = Path(os.environ.get("GOCART_VENV", "/tmp/gocart-venv"))
    python = venv / "bin" / "python"
    if not python.exists() or subprocess.call([str(python), "-c", "import gocart.parsers"],
                                              stderr=subprocess.DEVNULL) != 0:
        print(f"gocart: not importable in {venv} (set GOCART_VENV); no comparison")
        return
    files = [str(LVK / "MS181101ab-earlywarning.json.xz"), str(LVK / "S230518h-initial.json.xz")]
    done = subprocess.run([str(python), "-c", _GOCART_SCRIPT, *files], check=False,
                          capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        print("gocart: failed on these notices:", (done.stderr.strip().splitlines() or ["?"])[-1])
        return
    times = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{'gocart':<12} {'cold s':>7} {'warm median s':>14}   skysift warm / gocart warm")
    for label, t in zip(results, times, strict=False):
        ours = sorted(results[label][1:])[len(results[label][1:]) // 2]
        warm = sorted(t[1:])[len(t[1:]) // 2]
        print(f"{label:<12} {t[0]:7.2f} {warm:14.2f}   {ours / warm:.2f}")
    print("(gocart: parse() only, no Kafka; its CSV keeps no distances for coarse pixels and its"
          " plot has no probability colour map)")


if __name__ == "__main__":
    sys.exit(main())
