"""vet.storable, the message-free check of the common case, never passes what refusal refuses,
and passes the real alerts' sources (diaSources and diaForcedSources)."""

from __future__ import annotations

import math

import pytest
from rubin_alerts import grown_light_curves, real_alerts

from skysift.alerts.vet import ID_MAX, refusal, storable

BAD = [None, "x", "12", math.nan, math.inf, -math.inf, True, -1, 0, 2**63, 1e300, -1e300, 400.0,
       -91.0, 33281.0, 88070.0, 5, 60000, 1.5, "r", "R", "r\x00", ""]


def _items():
    # the real alerts (no history) and light curves grown from their records (every field kept)
    for alert in [*real_alerts(), *grown_light_curves(2, 3, history=5, n_forced=3)]:
        for source in (alert.diaSource, *alert.prvDiaSources):
            yield source, False
        for forced in alert.prvDiaForcedSources:
            yield forced, True


def test_real_sources_take_the_fast_path():
    items = list(_items())
    assert sum(forced for _, forced in items) > 0 and sum(not f for _, f in items) > 10
    assert all(storable(item, forced) for item, forced in items)
    assert all(refusal(item, "prvDiaForcedSources[0]" if forced else "diaSource") is None
               for item, forced in items)


@pytest.mark.parametrize("field", ["diaSourceId", "diaForcedSourceId", "diaObjectId",
                                   "midpointMjdTai", "band", "ra", "dec"])
def test_fast_path_never_passes_a_refused_value(field):
    checked = 0
    for item, forced in _items():
        if field not in item:
            continue
        kind = "prvDiaForcedSources[0]" if forced else "prvDiaSources[0]"
        for value in [*BAD, ID_MAX, ID_MAX + 1]:
            changed = dict(item, **{field: value})
            if storable(changed, forced):
                assert refusal(changed, kind) is None, (field, value)
            else:
                checked += refusal(changed, kind) is not None
    assert checked > 0


SOFT = [None, math.nan, math.inf, -math.inf, 0.0, 1.0, 0.5, 1.5, -0.5, -3.0, 250.0, 2e14, -2e14,
        1e14, "x", 7, True]


@pytest.mark.parametrize("forced", [False, True])
def test_row_fast_path_cleans_each_value_as_the_per_field_check_does(forced):
    """_source_row / _forced_row check the flux columns together and take the per-field
    cleaning (_Soft.f: NULL and a warning for an impossible value) only when one fails: every
    value, in every column, gives the per-field result and its warning."""
    from skysift.features import update

    build, names = ((update._forced_row, update._FORCED_NAMES) if forced
                    else (update._source_row, update._SOURCE_NAMES))
    floats = ["psfFlux", "psfFluxErr"] + ([] if forced else ["reliability", "snr", "ra", "dec"])
    checked = 0
    for item, is_forced in _items():
        if is_forced != forced:
            continue
        for name in floats:
            for value in SOFT:
                if name in ("ra", "dec") and isinstance(value, str):
                    continue  # refused before a row is built (storable, trigger_refusal)
                changed = dict(item, **{name: value})
                got_warnings: list[str] = []
                soft = update._Soft(got_warnings)
                row = dict(zip(names, build(changed, soft), strict=True))
                want_warnings: list[str] = []
                ref = update._Soft(want_warnings)
                want = update._num(value) if name in ("ra", "dec") else ref.f(changed, name)
                assert row[name] == want or (want is None and row[name] is None), (name, value)
                assert type(row[name]) is type(want), (name, value)
                assert got_warnings == want_warnings, (name, value)
                checked += 1
    assert checked > 100


@pytest.mark.parametrize("forced", [False, True])
def test_clean_row_only_for_storable_items_and_equal_to_the_per_field_row(forced):
    """_clean_source_row / _clean_forced_row (the vetting's one pass: storable and row together)
    return a row only for an item storable accepts, and then the very row the per-field way
    gives: each column from its own check, the payload from payload_beside."""
    from skysift.features import update
    from skysift.store.payloads import payload_beside
    from skysift.store.schema import FORCED_COLUMNS, SOURCE_COLUMNS

    clean = update._clean_forced_row if forced else update._clean_source_row
    columns = FORCED_COLUMNS if forced else SOURCE_COLUMNS
    fields = ["diaForcedSourceId" if forced else "diaSourceId", "diaObjectId", "midpointMjdTai",
              "band", "psfFlux", "psfFluxErr"] + ([] if forced else
                                                  ["reliability", "snr", "ra", "dec"])
    rows = refused = 0
    for item, is_forced in _items():
        if is_forced != forced:
            continue
        variants = [item] + [dict(item, **{name: value}) for name in fields
                             for value in [*BAD, *SOFT]]
        variants += [{k: v for k, v in item.items() if k != name} for name in fields]
        for changed in variants:
            row = clean(changed)
            if row is None:
                refused += 1
                continue
            assert storable(changed, forced), changed
            warnings: list[str] = []
            soft = update._Soft(warnings)
            want = tuple(soft.f(changed, c) if c in ("psfFlux", "psfFluxErr", "reliability", "snr")
                         else changed.get(c) for c in columns)
            assert warnings == []  # nothing to clean: every column holds the item's own value
            assert row[:-1] == want
            assert all(a is b for a, b in zip(row[:-1], (changed.get(c) for c in columns),
                                              strict=True))
            assert row[-1] == payload_beside(changed, columns, want)
            rows += 1
    assert rows > 10 and refused > 100
