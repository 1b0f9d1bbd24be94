"""Record formats: plain, lite, full, exactly as the seed document shows them."""

from __future__ import annotations

import json
import re

from skysift.streams.deliver import LightCurve, build_record
from skysift.streams.records import (LITE_FORCED_FIELDS, LITE_SOURCE_FIELDS, encode_record,
                                     utc_now_text)

BIG = 169298432598474793  # > 2**53: a float would change it


def _lc():
    srcs = [{"diaSourceId": BIG + i, "psfFlux": 100.0 + i, "psfFluxErr": 5.0,
             "midpointMjdTai": 60924.3 - i, "band": "gri"[i], "reliability": 0.5, "x": 1.5,
             "extra": None} for i in range(3)]
    forced = [{"diaForcedSourceId": 7, "psfFlux": 1.0, "psfFluxErr": 0.5,
               "midpointMjdTai": 60900.0, "band": "r", "visit": 9}]
    return LightCurve({"diaObjectId": BIG, "ra": 1.0}, srcs, forced, BIG)


def test_plain_is_selected_columns_plus_utc_in_order():
    row = {"diaObjectId": BIG, "decl": -38.1, "ra": 221.8}
    rec = build_record(row, "plain", "2026-01-29 11:40:14", None)
    assert list(rec) == ["diaObjectId", "decl", "ra", "UTC"]
    assert rec["UTC"] == "2026-01-29 11:40:14"


def test_lite_has_five_and_four_fields_oldest_first():
    rec = build_record({"diaObjectId": BIG}, "lite", "t", _lc())
    srcs = rec["alert"]["diaSourcesList"]
    assert all(tuple(s) == LITE_SOURCE_FIELDS for s in srcs)
    assert tuple(rec["alert"]["diaForcedSourcesList"][0]) == LITE_FORCED_FIELDS
    times = [s["midpointMjdTai"] for s in srcs]
    assert times == sorted(times)
    assert set(rec["alert"]) == {"diaSourcesList", "diaForcedSourcesList"}


def test_full_keeps_every_field_of_every_source():
    lc = _lc()
    rec = build_record({"diaObjectId": BIG}, "full", "t", lc)
    assert rec["alert"]["diaObject"] == lc.dia_object
    got = {s["diaSourceId"]: s for s in rec["alert"]["diaSourcesList"]}
    for s in lc.sources:
        assert got[s["diaSourceId"]] == s
    assert rec["alert"]["diaForcedSourcesList"] == lc.forced


def test_hidden_key_column_is_not_in_the_record():
    rec = build_record({"ra": 1.0, "__diaObjectId": BIG}, "plain", "t", None)
    assert rec == {"ra": 1.0, "UTC": "t"}


def test_64_bit_ids_are_exact_json_integers_and_nan_is_null():
    data = encode_record({"diaObjectId": BIG, "f": float("nan"), "g": float("inf"),
                          "alert": {"diaSourcesList": [{"psfFlux": float("nan"), "id": BIG}]}})
    assert re.search(rb'"diaObjectId": ?169298432598474793\b', data)
    back = json.loads(data)
    assert back["diaObjectId"] == BIG and isinstance(back["diaObjectId"], int)
    assert back["f"] is None and back["g"] is None
    assert back["alert"]["diaSourcesList"][0] == {"psfFlux": None, "id": BIG}


def test_utc_format():
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", utc_now_text())
