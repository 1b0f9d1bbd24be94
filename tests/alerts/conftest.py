"""Fixtures for the alert tests: the real Rubin files in tests/data/rubin, and record builders."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from skysift.alerts.encode import load_wire_record

RUBIN = Path(__file__).resolve().parent.parent / "data" / "rubin"
SSO_FILE = RUBIN / "169298432645136561.avro"  # solar-system alert: no diaObject, with MPCORB
BOOM_FILE = RUBIN / "7912941781254298.avro"


def wire_files() -> list[Path]:
    return sorted(RUBIN.glob("*.avro"))


@pytest.fixture(scope="session")
def rubin_dir() -> Path:
    return RUBIN


@pytest.fixture(scope="session")
def real_records() -> dict[Path, dict[str, Any]]:
    """The raw v9 record of every real file (decoded once)."""
    return {path: load_wire_record(path)[0] for path in wire_files()}


def with_history(record: dict[str, Any], n_sources: int, n_forced: int = 0) -> dict[str, Any]:
    """A copy of a real record carrying ``n_sources`` previous diaSources (copies of its own
    diaSource with new ids and earlier MJDs) and ``n_forced`` forced sources."""
    out = copy.deepcopy(record)
    src = record["diaSource"]
    out["prvDiaSources"] = [
        dict(src, diaSourceId=src["diaSourceId"] - 1000 - i,
             midpointMjdTai=src["midpointMjdTai"] - 1 - i)
        for i in range(n_sources)
    ]
    forced = {
        "diaForcedSourceId": 0, "diaObjectId": src["diaObjectId"] or 1, "ra": src["ra"],
        "dec": src["dec"], "visit": src["visit"], "detector": src["detector"],
        "psfFlux": src["psfFlux"], "psfFluxErr": src["psfFluxErr"], "midpointMjdTai": 0.0,
        "scienceFlux": src["scienceFlux"], "scienceFluxErr": src["scienceFluxErr"],
        "band": src["band"], "timeProcessedMjdTai": src["timeProcessedMjdTai"],
        "timeWithdrawnMjdTai": None,
    }
    out["prvDiaForcedSources"] = [
        dict(forced, diaForcedSourceId=src["diaSourceId"] + 7 + i,
             midpointMjdTai=src["midpointMjdTai"] - 0.5 - i)
        for i in range(n_forced)
    ]
    return out
