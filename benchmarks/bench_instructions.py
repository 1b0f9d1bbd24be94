"""Instructions per alert under callgrind: a measure that does not move with the machine's load.

    python benchmarks/bench_instructions.py [--alerts 200]

On the shared 2-core machines this project runs on, wall-clock rates of the same code moved by
5-27% within one run (see docs/architecture.md), so a change worth less than that cannot be seen
in the pipeline benchmark. valgrind's callgrind counts the instructions executed instead: the
same count for the same code, inputs and binaries, whatever else the machine does. This script
runs, in one process under callgrind, on the same synthetic night as bench_pipeline.py:

- fastavro decoding the alerts completely (the pipeline benchmark's reference);
- skysift's decode (``decode_message``: the history projected, cutouts stepped over);
- ``store_alerts`` of the batch into a fresh SQLite store (cold: every history item new);
- the same decode and store with each object's previous alert stored first (steady state);

and prints instructions per alert and the ratios. Only the work itself is counted: each part runs
inside ``sys.call_tracing`` (a C function nothing else calls), the one function callgrind
collects in (``--toggle-collect``), and a profile is dumped after each (``--dump-after``).
Instructions are not time (the interpreter runs fewer instructions per cycle than fastavro's
compiled loop), so the ratios here are not the pipeline benchmark's; they are the figure to
compare before and after a change: runs of the same code agree to within 0.1%.
Needs valgrind (skipped without it); ~4 min for 200 alerts.
The BBB fit is off (its iterations stop on a time budget, which would make counts vary).
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: The parts measured, in the order the child runs them (one callgrind dump each).
PARTS = ("fastavro full decode", "skysift decode", "store, cold", "skysift decode, steady",
         "store, steady")
#: Alerts of other objects stored first into the cold store, untimed (compiles its statements).
SPARE = 5


def child(data: Path) -> None:
    """Run under callgrind: each part inside sys.call_tracing (the only code counted)."""
    import io

    import fastavro

    from skysift.alerts.decode import decode_message
    from skysift.alerts.model import AlertOrigin
    from skysift.alerts.schemas import schema_for_id
    from skysift.features.update import store_alerts
    from skysift.store.database import open_store

    night, previous, spare = pickle.loads(data.read_bytes())
    parsed = fastavro.parse_schema(schema_for_id(int.from_bytes(night[0][1:5], "big")))
    origin = AlertOrigin(path="bench")
    folder = Path(tempfile.mkdtemp(prefix="skysift-instr-"))

    def full() -> None:
        for value in night:
            fastavro.schemaless_reader(io.BytesIO(value[5:]), parsed, None)

    def decode(values: list[bytes]) -> list:
        return [decode_message(v, origin) for v in values]

    def store(engine, alerts: list) -> None:
        with engine.begin() as conn:
            store_alerts(conn, alerts, bbb=False)

    def counted(fn, *args):  # the only code callgrind counts; returns what fn returns
        return sys.call_tracing(fn, args)

    # not counted: the readers built, the schemas parsed, each engine's statements compiled
    for value in spare:
        fastavro.schemaless_reader(io.BytesIO(value[5:]), parsed, None)
    cold = open_store(f"sqlite:///{folder}/cold.db")
    store(cold, decode(spare))  # other objects than the night's: its history stays new
    steady = open_store(f"sqlite:///{folder}/steady.db")
    store(steady, decode(previous))  # each object's previous alert: its history stored

    counted(full)
    counted(store, cold, counted(decode, night))
    counted(store, steady, counted(decode, night))
    cold.dispose()
    steady.dispose()
    shutil.rmtree(folder, ignore_errors=True)


def callgrind_command(folder: Path, argv: list[str]) -> list[str]:
    """``argv`` under callgrind, counting only inside ``sys.call_tracing`` and dumping the
    count after each call (``folder/cg.out.1``, ``.2``...; :func:`totals` reads them)."""
    return ["valgrind", "--tool=callgrind", "--collect-atstart=no",
            "--toggle-collect=sys_call_tracing", "--dump-after=sys_call_tracing",
            f"--callgrind-out-file={folder}/cg.out", *argv]


def totals(folder: Path) -> list[int]:
    """The instructions of each dump callgrind wrote (``--dump-after``), in order."""
    out = []
    for f in sorted(folder.glob("cg.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1])):
        m = re.search(r"^(?:totals|summary): (\d+)", f.read_text(errors="replace"), re.M)
        out.append(int(m.group(1)) if m else 0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alerts", type=int, default=200)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind not found: skipped (apt-get install valgrind)")
        return 0
    from synthetic import make_night, previous_alert

    from skysift.alerts.encode import encode_wire

    night, previous, n_items = [], [], 0
    for k, (rec, _sid) in enumerate(make_night(args.alerts + SPARE, seed=1)):
        night.append(encode_wire(rec, 9, 0))
        if k < args.alerts:
            n_items += len(rec.get("prvDiaSources") or []) + len(
                rec.get("prvDiaForcedSources") or [])
            prev = previous_alert(rec)
            if prev is not None:
                previous.append(encode_wire(prev, 9, 0))
    night, spare = night[:args.alerts], night[args.alerts:]
    folder = Path(tempfile.mkdtemp(prefix="skysift-callgrind-"))
    data = folder / "night.pickle"
    data.write_bytes(pickle.dumps((night, previous, spare)))
    cmd = callgrind_command(folder, [sys.executable, __file__, "--child", str(data)])
    print(f"{args.alerts} alerts of the synthetic night ({n_items} history items), under "
          "callgrind (a few minutes)...", flush=True)
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same dict and set orders in every run
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        print(done.stderr[-3000:])
        return 1
    counts = totals(folder)
    if len(counts) != len(PARTS):  # one dump per sys.call_tracing, in PARTS' order
        print(f"expected {len(PARTS)} dumps, found {len(counts)}: {counts}")
        return 1
    per = {name: c / args.alerts for name, c in zip(PARTS, counts, strict=True)}
    for (name, v), total in zip(per.items(), counts, strict=True):
        print(f"{name:>24}: {v / 1e6:8.3f} M instructions per alert ({total:,} in all)")
    ref = per["fastavro full decode"]
    cold = per["skysift decode"] + per["store, cold"]
    steady = per["skysift decode, steady"] + per["store, steady"]
    print(f"fastavro's full decode / skysift's decode: {ref / per['skysift decode']:.2f}x; "
          f"/ (decode + store, cold): {ref / cold:.2f}x; / (decode + store, steady): "
          f"{ref / steady:.2f}x (instructions, not time)")
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
