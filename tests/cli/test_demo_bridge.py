"""`skysift demo --once` shows the bridge: its mock GW map arrives after the replay and the
kilonova filter receives exactly the stored objects inside the 90% region, with reason=skymap."""

from __future__ import annotations

import json

import sqlalchemy as sa

from skysift.cli.main import main


def test_the_demo_kilonova_filter_hears_about_the_objects_inside_the_map(
        tmp_path, kafka_bootstrap, topic_reader, capsys, unique_name):
    data = tmp_path / "demo"
    topic = unique_name("demo-input")
    try:
        main(["--data-dir", str(data), "--kafka", kafka_bootstrap, "demo", "--once",
              "--input-topic", topic])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    out = capsys.readouterr().out
    assert "gravitational-wave event MS250905a" in out and ": new map, " in out

    from skysift.store.database import open_store
    from skysift.store.schema import gw_hits

    engine = open_store(f"sqlite:///{data / 'skysift.db'}")
    with engine.connect() as conn:
        inside = sorted(r[0] for r in conn.execute(
            sa.select(gw_hits.c.diaObjectId).where(gw_hits.c.contour < 0.9)))
    engine.dispose()
    assert 0 < len(inside) < 20  # some of the 20 sample objects, not all
    line = next(x for x in out.splitlines() if "kilonova_candidates:" in x)
    assert line.strip().endswith(f"0 + {len(inside)} when the map arrived (reason=skymap)")
    msgs = topic_reader(line.split(":")[0].strip(), expect=len(inside))
    assert sorted(json.loads(m.value())["diaObjectId"] for m in msgs) == inside
    assert {dict(m.headers())["reason"] for m in msgs} == {b"skymap"}

    # the demo's filters are public: a new user sees them and their topics
    from skysift.filters.manage import list_filters

    engine = open_store(f"sqlite:///{data / 'skysift.db'}")
    with engine.connect() as conn:
        flags = {f.name: f.public for f in list_filters(conn)}
    engine.dispose()
    assert flags == {"bright_detections": True, "reliable_lightcurves": True,
                     "new_i_band_full": True, "kilonova_candidates": True}

    # ingest after the demo uses the same consumer group: the demo's alerts are not ingested again
    try:
        main(["--data-dir", str(data), "--kafka", kafka_bootstrap, "ingest", "--from-kafka",
              topic, "--idle-exit", "3"])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    assert "ingested 0," in capsys.readouterr().out
