"""lsst-alert-packet's own sample alerts for schemas 10 and 11 leave diaSource.diaObjectId null:
their sources belong to the alert's diaObject, and the stored object counts them."""

from __future__ import annotations

from pathlib import Path

import lsst.alert.packet
import pytest
import sqlalchemy as sa

from skysift.alerts.files import read_alerts
from skysift.store.database import open_store
from skysift.features.update import store_alerts
from skysift.store.schema import objects, sources

SCHEMAS = Path(lsst.alert.packet.__file__).parent / "schema"


@pytest.mark.parametrize("version", ["10/0", "11/0", "11/1"])
def test_sources_without_their_object_id_belong_to_the_alert_object(tmp_path, version):
    path = SCHEMAS / version / "sample_data" / "fakeAlert.avro"
    (alert,) = list(read_alerts(path))
    oid = alert.diaObject["diaObjectId"]
    engine = open_store(f"sqlite:///{tmp_path / 's.db'}")
    with engine.begin() as conn:
        store_alerts(conn, [alert])
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sources.c.diaSourceId, sources.c.diaObjectId)).all()
        n = conn.execute(
            sa.select(objects.c.nDiaSources).where(objects.c.diaObjectId == oid)
        ).scalar()
    engine.dispose()
    source_ids = {s["diaSourceId"] for s in [alert.diaSource, *(alert.prvDiaSources or [])]}
    assert {r[0] for r in stored} == source_ids
    assert {r[1] for r in stored} == {oid}
    assert n == len(source_ids) > 1
