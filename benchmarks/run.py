"""`make bench`: run every benchmarks/bench_*.py in turn (each prints its own numbers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        if (
            wanted
            and script.stem not in wanted
            and script.stem.removeprefix("bench_") not in wanted
        ):
            continue
        print(f"=== {script.name}", flush=True)
        rc = subprocess.call([sys.executable, str(script)])
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
