"""objects.tns_name from a TNS public objects file: `skysift tns load FILE`, refreshed by loading
again, and set on each new batch by the pipeline so that a filter on it sees it at once."""

from __future__ import annotations

import io
import json
import zipfile

import astropy.units as u
import pytest
import sqlalchemy as sa
from astropy.coordinates import SkyCoord
from ctx_world import placed, rubin_alerts

from skysift.cli.main import main
from skysift.context.tns import read_tns
from skysift.errors import ContextError
from skysift.filters.manage import add_filter
from skysift.store.schema import crossmatch_tns, objects

HEADER = ('"objid","name_prefix","name","ra","declination","redshift","typeid","type",'
          '"reporting_groupid","reporting_group","source_groupid","source_group","discoverydate",'
          '"discoverymag","discmagfilter","filter","reporters","time_received","internal_names",'
          '"creationdate","lastmodified"')
POS = [(150.0, 2.0), (151.0, -3.0), (152.0, 10.0)]  # where the three stored objects sit


def _row(objid, prefix, name, ra, dec, redshift="", type_=""):
    return (f'"{objid}","{prefix}","{name}","{ra}","{dec}","{redshift}","","{type_}","","","","",'
            f'"2026-11-30 03:04:05.000","19.1","","r","Someone","","LSST26abc",'
            f'"2026-11-30 04:00:00","2026-11-30 05:00:00"')


def _offset(ra, dec, arcsec):
    """A position ``arcsec`` north of (ra, dec)."""
    return ra, dec + arcsec / 3600


def tns_file(path, rows):
    path.write_text('"2026-12-01 00:00:00"\n' + HEADER + "\n" + "\n".join(rows) + "\n")
    return path


def test_read_tns_keeps_good_rows_and_names_each_bad_line(tmp_path):
    f = tns_file(tmp_path / "tns.csv", [
        _row(1, "SN", "2026aaa", 10.0, 20.0, "0.031", "SN Ia"),
        _row(2, "AT", "", 11.0, 21.0),                      # line 4: no name
        _row(3, "AT", "2026bbb", 12.0, 95.0),               # line 5: off the sky
        _row(4, "AT", "2026ccc", "x", 1.0),                 # line 6: not a number
        _row(5, "AT", "2026aaa", 13.0, 1.0),                # line 7: a second 2026aaa
        _row(6, "TDE", "2026ddd", 359.5, -89.9),
    ])
    cat = read_tns(f)
    assert cat.dated == "2026-12-01 00:00:00"
    assert [r["tns_name"] for r in cat.rows] == ["2026aaa", "2026ddd"]
    first = cat.rows[0]
    assert (first["tns_prefix"], first["ra"], first["decl"], first["z"], first["type"]) == \
        ("SN", 10.0, 20.0, 0.031, "SN Ia")
    assert cat.rows[1]["z"] is None and cat.rows[1]["type"] is None
    assert cat.problems == [
        f"{f}, line 4: no name",
        f"{f}, line 5: position ('12.0', '95.0') is not on the sky",
        f"{f}, line 6: position ('x', '1.0') is not on the sky",
        f"{f}, line 7: 2026aaa appears twice (the first is kept)",
    ]
    # the zip TNS serves holds the same CSV
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tns_public_objects.csv", f.read_text())
    assert read_tns(buf.getvalue(), where="z").rows == cat.rows
    with pytest.raises(ContextError, match=r"no TNS header .* first 5 lines"):
        read_tns(b"ra,dec\n1,2\n", where="cones.csv")


def _cli(capsys, world, *argv):
    try:
        main(["--data-dir", str(world.settings.data_dir), "--database", world.settings.database_url,
              "--kafka", world.settings.kafka, *argv])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    return capsys.readouterr()


def _names(world):
    with world.engine.connect() as conn:
        return dict(conn.execute(sa.select(objects.c.diaObjectId, objects.c.tns_name)).all())


def test_load_names_stored_objects_and_a_newer_file_refreshes_them(ctx_world, tmp_path, capsys,
                                                                   topic_reader):
    world = ctx_world
    reals = rubin_alerts()
    alerts = [placed(reals[k], *POS[k]) for k in range(3)]
    world.ingest(alerts)
    o1, o2, o3 = (a.diaObjectId for a in alerts)
    near1 = _offset(*POS[0], 0.5)
    near2, also2 = _offset(*POS[1], 1.0), _offset(*POS[1], -1.3)  # two within 1.5": nearest wins
    outside = _offset(*POS[2], 1.6)
    f = tns_file(tmp_path / "tns.csv", [
        _row(1, "SN", "2026aaa", *near1, "0.05", "SN Ia"), _row(2, "AT", "2026bbb", *near2),
        _row(3, "AT", "2026bbc", *also2), _row(4, "AT", "2026ccc", *outside),
        _row(5, "AT", "", 1, 1)])
    out = _cli(capsys, world, "tns", "load", str(f))
    assert ("TNS: 4 objects loaded (file dated 2026-12-01 00:00:00), 1 rows skipped; "
            "2 stored objects named within 1.5 arcsec, 0 names cleared") in out.out
    assert f"skipped: {f}, line 7: no name" in out.err
    # the same answer from astropy: separations of each object to each TNS position
    for (ra, dec), want in zip(POS, ("2026aaa", "2026bbb", None), strict=True):
        here = SkyCoord(ra * u.deg, dec * u.deg)
        seps = {n: here.separation(SkyCoord(p[0] * u.deg, p[1] * u.deg)).arcsec
                for n, p in (("2026aaa", near1), ("2026bbb", near2), ("2026bbc", also2),
                             ("2026ccc", outside))}
        close = {n: s for n, s in seps.items() if s <= 1.5}
        assert (min(close, key=close.get) if close else None) == want
    assert _names(world) == {o1: "2026aaa", o2: "2026bbb", o3: None}

    # a newer file: 2026aaa withdrawn, 2026ccc moved onto the third object
    f2 = tns_file(tmp_path / "tns2.csv", [
        _row(2, "AT", "2026bbb", *near2),
        _row(4, "TDE", "2026ccc", *_offset(*POS[2], 0.2), "0.02", "TDE")])
    out = _cli(capsys, world, "tns", "load", str(f2))
    assert "2 stored objects named within 1.5 arcsec, 1 names cleared" in out.out
    assert _names(world) == {o1: None, o2: "2026bbb", o3: "2026ccc"}
    with world.engine.connect() as conn:
        assert sorted(conn.execute(sa.select(crossmatch_tns.c.tns_name)).scalars()) == \
            ["2026bbb", "2026ccc"]

    # the next alert of a named object keeps its name, and a filter on tns_name sees it at once
    flt = add_filter(world.engine, world.settings, world.users["alice"], name="named",
                     sql="SELECT diaObjectId, tns_name FROM objects WHERE tns_name IS NOT NULL",
                     trigger="alert")
    tdes = add_filter(world.engine, world.settings, world.users["alice"], name="tdes",
                      sql="SELECT objects.diaObjectId, crossmatch_tns.tns_name, crossmatch_tns.z "
                          "FROM objects, crossmatch_tns WHERE crossmatch_tns.type = 'TDE'",
                      trigger="alert")
    again = placed(reals[3], *_offset(*POS[2], 0.1))  # a new object on 2026ccc
    world.ingest([again])
    # Lasair's crossmatch_tns, joined on tns_name, in the batch: seeded with o3, then the new one
    got = [(r["diaObjectId"], r["tns_name"], r["z"])
           for r in (json.loads(m.value()) for m in topic_reader(tdes.topic, expect=2))]
    assert got == [(o3, "2026ccc", 0.02), (again.diaObjectId, "2026ccc", 0.02)]
    # the topic: the two named objects it was seeded with, then the new one
    records = [json.loads(m.value()) for m in topic_reader(flt.topic, expect=3)]
    assert sorted(r["tns_name"] for r in records) == ["2026bbb", "2026ccc", "2026ccc"]
    got = [
        (r["diaObjectId"], r["tns_name"]) for r in records if r["diaObjectId"] == again.diaObjectId
    ]
    assert got == [(again.diaObjectId, "2026ccc")]
    assert _names(world)[again.diaObjectId] == "2026ccc"


def test_a_file_with_no_usable_row_leaves_the_catalogue_alone(ctx_world, tmp_path, capsys):
    world = ctx_world
    good = tns_file(tmp_path / "good.csv", [_row(1, "AT", "2026zzz", 10.0, 10.0)])
    _cli(capsys, world, "tns", "load", str(good))
    bad = tns_file(tmp_path / "bad.csv", [_row(2, "AT", "", 1.0, 1.0)])
    with pytest.raises(SystemExit) as exc:
        main(["--data-dir", str(world.settings.data_dir), "--database",
              world.settings.database_url, "tns", "load", str(bad)])
    assert exc.value.code != 0
    assert (
        "no usable TNS rows (1 skipped); the catalogue was left as it was"
        in capsys.readouterr().err
    )
    with world.engine.connect() as conn:
        assert list(conn.execute(sa.select(crossmatch_tns.c.tns_name)).scalars()) == ["2026zzz"]
