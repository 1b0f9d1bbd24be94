"""A filter that does not match the batch database (BatchSchemaError, a FilterError) is blamed
alone: recorded on that filter, while the batch, its alerts and the other filters go on (no alert
is dead-lettered, the store is not blamed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from skysift.accounts import add_user
from skysift.alerts.files import iter_alert_files
from skysift.filters.active import CompiledFilters
from skysift.filters.manage import add_filter, get_filter
from skysift.ingest import ingest_files
from skysift.store.database import open_store

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
SQL = "SELECT objects.diaObjectId, objects.nDiaSources FROM objects WHERE objects.nDiaSources >= 1"


def test_a_column_mismatch_blames_the_filter_not_the_batch(make_settings, kafka_bootstrap,
                                                          tmp_path, unique_name, monkeypatch,
                                                          topic_reader):
    settings = make_settings(kafka=kafka_bootstrap,
                             database=f"sqlite:///{tmp_path / 'store.db'}")
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    good = add_filter(engine, settings, user, name="good", sql=SQL, output="plain",
                      trigger="alert")
    add_filter(engine, settings, user, name="skewed", sql=SQL, output="plain", trigger="alert")

    real_get = CompiledFilters.get

    def skewed_get(self: CompiledFilters, flt: Any) -> Any:
        vf = real_get(self, flt)
        if flt.name == "skewed":  # a filter reading a column the batch database does not have
            return dataclasses.replace(vf, _objects_columns=[frozenset({"diaObjectId",
                                                                        "no_such_column"})])
        return vf

    monkeypatch.setattr(CompiledFilters, "get", skewed_get)
    totals = ingest_files(settings, [RUBIN], progress=False, engine=engine)

    assert totals.ingested == len(list(iter_alert_files([RUBIN])))
    assert totals.rejected == 0  # no alert dead-lettered for the filter's problem
    with engine.connect() as conn:
        skewed = get_filter(conn, "skewed", user)
        assert skewed.last_error is not None and "no_such_column" in skewed.last_error
        assert get_filter(conn, "good", user).last_error is None
    assert topic_reader(good.topic)  # the other filter ran and produced
