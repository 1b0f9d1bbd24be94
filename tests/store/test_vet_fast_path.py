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
