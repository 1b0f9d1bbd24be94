"""The GCN listener's products flow into the broker: `skysift gcn process` with the global
--data-dir/--database (and with a `broker` section) registers each written alert in the store,
and the filters reading gw_hits hear about it with reason=skymap."""

from __future__ import annotations

import json

import pytest
import yaml
from ctx_world import notice_bytes, placed, rubin_alerts

from skysift.cli.main import main
from skysift.context.gw import hits_of_event, list_events
from skysift.filters.manage import add_filter
from skysift.skymaps.mock import gaussian_skymap


def _gcn_yaml(tmp_path, **sections):
    doc = {"version": 1,
           "gcn-kafka": {"client_id": "", "client_secret": "", "group_id": "",
                         "topic": "igwn.gwalert"},
           "lvk": {"parse_mock_events": True, "download_dir": str(tmp_path / "events"),
                   "aitoff": {"convert": False}, "ascii_map": {"convert": False},
                   "moc": {"convert": False}, "filters": []},
           "plugins": {"enabled": False}, **sections}
    path = tmp_path / "gcn.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("how,store_url", [("flags", "sqlite"), ("section", "postgresql")],
                         indirect=["store_url"])
def test_gcn_process_registers_the_alert_and_triggers_the_kilonova_filter(
        ctx_world, tmp_path, topic_reader, how):
    world = ctx_world
    alerts = rubin_alerts()
    t0 = min(a.diaSource["midpointMjdTai"] for a in alerts)
    alerts = [a for a in alerts if a.diaSource["midpointMjdTai"] < t0 + 0.5][:3]  # one night
    world.ingest([placed(a, 80.0 + 0.3 * i, -5.0) for i, a in enumerate(alerts)])
    flt = add_filter(world.engine, world.settings, world.users["bob"], name="kn",
                     sql="SELECT objects.diaObjectId, gw_hits.contour FROM objects, gw_hits "
                         "WHERE gw_hits.contour < 0.9", trigger="alert")
    notice = tmp_path / "MS261201z-preliminary.json"
    notice.write_bytes(notice_bytes("MS261201z", t0 - 0.1, gaussian_skymap(80.3, -5.0, 1.0)))
    # the broker's settings live in its data directory, as a deployment keeps them
    (world.settings.data_dir).mkdir(parents=True, exist_ok=True)
    (world.settings.data_dir / "skysift.toml").write_text(
        f'kafka = "{world.settings.kafka}"\ndatabase = "{world.settings.database}"\n')
    if how == "flags":
        argv = ["--data-dir", str(world.settings.data_dir), "gcn", "--settings",
                str(_gcn_yaml(tmp_path)), "process", str(notice)]
    else:
        argv = ["gcn", "--settings", str(_gcn_yaml(tmp_path, broker={
            "data_dir": str(world.settings.data_dir)})), "process", str(notice)]
    try:
        main(argv)
    except SystemExit as exc:  # main exits only on failure
        pytest.fail(f"skysift {' '.join(argv)} exited with {exc.code}")
    assert (tmp_path / "events" / "mockevents" / "MS261201z").is_dir()  # gocart's products
    with world.engine.connect() as conn:
        events = list_events(conn)
        hits = hits_of_event(conn, "MS261201z")
    assert [(e["superevent_id"], e["alert_type"], e["map_version"]) for e in events] == [
        ("MS261201z", "PRELIMINARY", 1)]
    assert len(hits) == 3
    inside = sorted(h["diaObjectId"] for h in hits if h["contour"] < 0.9)
    msgs = topic_reader(flt.topic, expect=len(inside))
    assert sorted(json.loads(m.value())["diaObjectId"] for m in msgs) == inside
    assert {dict(m.headers())["reason"] for m in msgs} == {b"skymap"}
