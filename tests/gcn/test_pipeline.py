"""One notice end to end, on the real LVK notices (via `skysift gcn process`'s pipeline)."""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil

import numpy as np
import pytest
import yaml

from skysift.gcn.pipeline import AlertProcessor

SKY_DEG2 = 4 * np.pi * (180 / np.pi) ** 2


def _raw(doc: dict) -> bytes:
    return json.dumps(doc).encode()


def _snapshot(root):
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def test_bayestar_alert_writes_every_product_with_reference_numbers(
    gcn_settings, lvk_dir, artifacts
):
    s = gcn_settings(lvk={"aitoff": {"convert": True}})
    raw = (lvk_dir / "MS181101ab-earlywarning.json").read_bytes()
    out = AlertProcessor(s).process(raw, path="MS181101ab-earlywarning.json")
    assert out.status == "written" and out.problems == []
    d = s.download_dir / "mockevents" / "MS181101ab" / "20181101T223420_earlywarning"
    assert out.alert_dir == d
    names = {p.name for p in d.iterdir() if not p.name.startswith(".")}
    assert names == {"MS181101ab-earlywarning.json", "bayestar.multiorder.fits", "meta.yaml",
                     "skymap.csv", "skymap.png", "moc50.fits", "moc50.json", "moc90.fits",
                     "moc90.json"}
    assert (d / "MS181101ab-earlywarning.json").read_bytes() == raw  # exactly as received
    assert (d / "bayestar.multiorder.fits").read_bytes() == (
        lvk_dir / "MS181101ab_bayestar.multiorder.fits"
    ).read_bytes()

    meta = yaml.safe_load((d / "meta.yaml").read_text())
    assert "skymap" not in meta["ALERT"]["event"]
    assert meta["ALERT"]["alert_type"] == "EARLYWARNING"
    assert "HISTORY" not in meta["HEADER"] and meta["HEADER"]["CREATOR"] == "BAYESTAR"
    x = meta["EXTRA"]
    assert (x["area10"], x["area50"], x["area90"]) == (1.367, 8.898, 30.975)
    assert x["peak"]["ra"] == pytest.approx(194.30419921874997, abs=1e-12)
    assert x["peak"]["dec"] == pytest.approx(-17.856895095545468, abs=1e-12)
    assert x["central coordinate"]["equatorial"] == "194.304199 -17.856895"
    assert x["distmean"] == pytest.approx(39.770, abs=5e-4) and x["diststd"] == pytest.approx(
        8.308, abs=5e-4
    )
    assert x["latency_seconds"] == pytest.approx(693.346, abs=1e-3)  # 22:22:46.654 -> 22:34:20
    assert x["far_text"] == "1 per 3.48e+05 years"
    # the rate, by hand: FAR 9.11069936486e-14 Hz x 365.25 x 86400 s per year
    assert x["far_per_year"] == pytest.approx(9.11069936486e-14 * 365.25 * 86400, rel=1e-12)
    assert x["kept_by"] == ["(no filters)"]
    shutil.copy(d / "skymap.png", artifacts / "skymap-MS181101ab.png")

    with open(d / "skymap.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 49152
    assert list(rows[0]) == ["IPIX", "RA", "DEC", "GLON", "GLAT", "PROB", "CREDIBLE_LEVEL",
                             "DISTMU", "DISTSIGMA", "DISTNORM"]
    prob = np.array([float(r["PROB"]) for r in rows])
    assert prob.sum() == pytest.approx(1.0, abs=1e-5)  # %.6e rounding of 49152 values
    assert sum(np.isfinite(float(r["DISTMU"])) for r in rows) > 48000  # gocart: 768

    from mocpy import MOC
    moc = MOC.from_fits(d / "moc90.fits")
    assert moc.sky_fraction * SKY_DEG2 == pytest.approx(30.975181, abs=1e-5)
    assert MOC.from_json(
        json.loads((d / "moc50.json").read_text())
    ).sky_fraction * SKY_DEG2 == pytest.approx(8.8978, abs=1e-4)
    index = yaml.safe_load((d.parent / "event.yaml").read_text())
    assert index["latest"] == d.name and index["alerts"][0]["sequence"] == 1
    assert (d.parent / "latest").resolve() == d.resolve()


def test_the_plot_is_a_readable_png_with_both_contours(gcn_settings, lvk_dir):
    from matplotlib.image import imread

    s = gcn_settings(lvk={"aitoff": {"convert": True}})
    out = AlertProcessor(s).process((lvk_dir / "S230518h-initial.json").read_bytes())
    img = imread(out.alert_dir / "skymap.png")
    assert img.shape[1] >= 1200 and img.shape[0] >= 550
    rgb = (img[..., :3] * 255).round().astype(int)
    for colour in ((0xD6, 0x27, 0x28), (0x1F, 0x77, 0xB4)):  # 50% red, 90% blue contours
        assert (np.abs(rgb - colour).sum(axis=-1) < 30).sum() > 50


@pytest.mark.parametrize("nside", [16, 64, 256])
def test_csv_pixel_centres_are_those_of_the_asked_nside(lvk_dir, nside, tmp_path):
    import astropy.units as u
    from astropy_healpix import healpix_to_lonlat

    from skysift.gcn.products import write_csv
    from skysift.skymaps.multiorder import read_multiorder

    m = read_multiorder(lvk_dir / "MS181101ab_bayestar.multiorder.fits")
    path = write_csv(m, tmp_path / "skymap.csv", nside)
    assert (
        path.read_text().split("\n", 1)[0].startswith("IPIX,RA,DEC,GLON,GLAT,PROB,CREDIBLE_LEVEL")
    )
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    assert data.shape[0] == 12 * nside**2
    lon, lat = healpix_to_lonlat(data[:, 0].astype(int), nside, order="nested")
    assert np.abs(data[:, 1] - lon.to_value(u.deg)).max() < 1e-6
    assert np.abs(data[:, 2] - lat.to_value(u.deg)).max() < 1e-6
    assert data[:, 5].sum() == pytest.approx(1.0, abs=1e-4)
    order = np.lexsort((data[:, 6], -data[:, 5]))  # by PROB descending, ties by level
    assert np.all(np.diff(data[order, 6]) >= 0)


def test_pe_map_is_named_bilby_and_burst_map_by_its_pipeline(gcn_settings, lvk_dir, notice_json):
    from astropy.table import Table

    s = gcn_settings()
    proc = AlertProcessor(s)
    out = proc.process((lvk_dir / "S230518h-initial.json").read_bytes())
    assert (out.alert_dir / "bilby.multiorder.fits").exists()
    meta = yaml.safe_load((out.alert_dir / "meta.yaml").read_text())
    assert meta["EXTRA"]["area90"] == pytest.approx(666, abs=1)

    # an O4 oLIB burst: the PE map reduced to UNIQ + PROBDENSITY, group Burst, empty classification
    doc = notice_json("S230518h-initial")
    t = Table.read(io.BytesIO(base64.b64decode(doc["event"]["skymap"])))
    t.keep_columns(["UNIQ", "PROBDENSITY"])
    for key in ("DISTMEAN", "DISTSTD"):
        t.meta.pop(key, None)
    buf = io.BytesIO()
    t.write(buf, format="fits")
    doc["superevent_id"] = "S230528ay"
    doc["event"].update(group="Burst", pipeline="oLIB", search="AllSky", classification={},
                        properties={}, skymap=base64.b64encode(buf.getvalue()).decode(),
                        duration=0.05, central_frequency=150.0)
    out = proc.process(_raw(doc), path="burst.json")
    assert out.status == "written" and out.problems == []
    assert (out.alert_dir / "olib.multiorder.fits").exists()
    header = (out.alert_dir / "skymap.csv").read_text().splitlines()[0]
    assert header == "IPIX,RA,DEC,GLON,GLAT,PROB,CREDIBLE_LEVEL"
    meta = yaml.safe_load((out.alert_dir / "meta.yaml").read_text())
    assert meta["EXTRA"]["distmean"] is None and meta["EXTRA"]["area90"] == pytest.approx(
        666, abs=1
    )


def test_external_coincidence_is_kept_with_its_combined_map(gcn_settings, notice_json, lvk_dir):
    doc = notice_json("MS181101ab-earlywarning")
    doc["alert_type"] = "UPDATE"
    combined = (lvk_dir / "MS220722v_bayestar.multiorder.fits").read_bytes()
    doc["external_coinc"] = {"gcn_notice_id": 695118789, "ivorn": "ivo://nasa.gsfc.gcn/Fermi#GBM_x",
                             "observatory": "Fermi", "search": "GRB", "time_difference": -1.6,
                             "time_coincidence_far": 7.5e-9,
                             "time_sky_position_coincidence_far": 1e-11,
                             "combined_skymap": base64.b64encode(combined).decode()}
    out = AlertProcessor(gcn_settings()).process(_raw(doc))
    assert out.status == "written" and out.problems == []
    assert (out.alert_dir / "combined-ext.multiorder.fits").read_bytes() == combined
    meta = yaml.safe_load((out.alert_dir / "meta.yaml").read_text())
    assert meta["ALERT"]["external_coinc"]["observatory"] == "Fermi"
    assert "combined_skymap" not in meta["ALERT"]["external_coinc"]
    assert meta["EXTRA"]["external_coinc"]["area90"] == pytest.approx(1262, abs=1)
    assert meta["EXTRA"]["area90"] == 30.975


def test_event_sequence_latest_and_retraction(gcn_settings, lvk_dir):
    s = gcn_settings()
    proc = AlertProcessor(s)
    ev = s.download_dir / "mockevents" / "MS230425k"
    # a retraction for an event never written is not written
    assert proc.process((lvk_dir / "MS230425k-retraction.json").read_bytes()).status == "filtered"
    assert not ev.exists()
    for stem in ("MS230425k-initial", "MS230425k-preliminary", "MS230425k-retraction"):
        assert proc.process((lvk_dir / f"{stem}.json").read_bytes()).status == "written"
    index = yaml.safe_load((ev / "event.yaml").read_text())
    assert [a["directory"] for a in index["alerts"]] == [
        "20230425T105653_preliminary", "20230425T110209_retraction", "20230425T121940_initial"]
    assert [a["sequence"] for a in index["alerts"]] == [1, 2, 3]
    assert index["latest"] == "20230425T121940_initial" and index["latest_sequence"] == 3
    assert index["status"] == "retracted" and (ev / "RETRACTED").exists()
    assert (ev / "latest").readlink().name == "20230425T121940_initial"
    retraction = yaml.safe_load((ev / "20230425T110209_retraction" / "meta.yaml").read_text())
    assert retraction["ALERT"]["event"] is None and retraction["HEADER"] == {}


def test_processing_the_same_notices_twice_changes_nothing(gcn_settings, lvk_dir):
    s = gcn_settings()
    proc = AlertProcessor(s)
    files = ["MS230425k-preliminary", "MS230425k-retraction", "S230518h-initial"]
    for stem in files:
        proc.process((lvk_dir / f"{stem}.json").read_bytes())
    before = _snapshot(s.download_dir)
    for stem in files:
        assert proc.process((lvk_dir / f"{stem}.json").read_bytes()).status == "unchanged"
    assert _snapshot(s.download_dir) == before


def test_filters_choose_and_meta_says_why(gcn_settings, lvk_dir):
    s = gcn_settings(lvk={"filters": [
        {"name": "close", "dist_upper": 100},
        {"name": "small", "area90_upper": 50, "alert_types": ["early_warning"]}]})
    proc = AlertProcessor(s)
    assert proc.process((lvk_dir / "S230518h-initial.json").read_bytes()).status == "filtered"
    assert not (s.download_dir / "superevents" / "S230518h").exists()
    out = proc.process((lvk_dir / "MS181101ab-earlywarning.json").read_bytes())
    meta = yaml.safe_load((out.alert_dir / "meta.yaml").read_text())
    assert meta["EXTRA"]["kept_by"] == ["close", "small"]
    assert any("DISTMEAN 39.8 Mpc < 100" in r for r in meta["EXTRA"]["filters"]["close"]["reasons"])


def test_mock_and_real_selection(gcn_settings, lvk_dir):
    s = gcn_settings(lvk={"parse_mock_events": False, "parse_real_events": True})
    proc = AlertProcessor(s)
    assert proc.process((lvk_dir / "MS181101ab-earlywarning.json").read_bytes()).status == "skipped"
    assert proc.process((lvk_dir / "S230518h-initial.json").read_bytes()).status == "written"
    s2 = gcn_settings(lvk={"parse_mock_events": True, "parse_real_events": False})
    assert (
        AlertProcessor(s2).process((lvk_dir / "S230518h-initial.json").read_bytes()).status
        == "skipped"
    )


def test_malformed_notice_is_rejected_with_where_and_the_rest_goes_on(gcn_settings, lvk_dir):
    s = gcn_settings()
    proc = AlertProcessor(s)
    out = proc.process(b'{"superevent_id": "S1", "alert_type": ', topic="igwn.gwalert",
                       partition=0, offset=41)
    assert out.status == "rejected"
    kept = s.download_dir / "rejected" / "igwn.gwalert-p0-o41.json"
    assert kept.read_bytes() == b'{"superevent_id": "S1", "alert_type": '
    err = (kept.parent / (kept.name + ".error.txt")).read_text()
    assert "offset=41" in err and "not valid JSON" in err
    assert proc.process((lvk_dir / "S230518h-initial.json").read_bytes()).status == "written"


def test_undecodable_map_writes_what_it_can_and_keeps_the_notice(gcn_settings, notice_json):
    s = gcn_settings()
    doc = notice_json("S230518h-initial")
    doc["event"]["skymap"] = base64.b64encode(b"SIMPLE  = garbage" * 100).decode()
    out = AlertProcessor(s).process(_raw(doc), topic="igwn.gwalert", partition=0, offset=7)
    assert out.status == "written"
    assert any("sky map does not decode" in p for p in out.problems)
    names = {p.name for p in out.alert_dir.iterdir() if not p.name.startswith(".")}
    assert names == {"S230518h-initial.json", "meta.yaml"}
    meta = yaml.safe_load((out.alert_dir / "meta.yaml").read_text())
    assert meta["ALERT"]["event"]["pipeline"] == "pycbc"
    assert any("does not decode" in p for p in meta["EXTRA"]["problems"])
    assert (s.download_dir / "rejected" / "igwn.gwalert-p0-o7.json").exists()


@pytest.mark.parametrize("change,problem", [
    (lambda d: d["event"].update(classification={}), None),
    (lambda d: d.update(event=None), "INITIAL notice has no event"),
    (lambda d: d["event"].pop("significant"),
     "schema: event: 'significant' is a required property"),
])
def test_odd_notices_are_handled(gcn_settings, notice_json, change, problem):
    s = gcn_settings(lvk={"filters": [{"name": "ns", "ns_lower": 0.5},
                                      {"name": "sig", "significant": True}]})
    doc = notice_json("S230518h-initial")
    change(doc)
    out = AlertProcessor(s).process(_raw(doc), path="odd.json")
    if problem is None:
        assert out.status == "written" and out.problems == []
        assert out.filters[0].reasons[0].startswith("pass: ns_lower: not applied")
    else:
        assert any(problem in p for p in out.problems)
        assert (s.download_dir / "rejected" / "odd.json").exists()


def test_avro_notice_gives_the_same_products_as_json(gcn_settings, notice_json, tmp_path):
    import fastavro

    from skysift.skymaps.notice import _avro_schema

    doc = notice_json("MS181101ab-earlywarning")
    doc["event"]["skymap"] = base64.b64decode(doc["event"]["skymap"])
    doc["alert_type"] = "PRELIMINARY"
    doc["event"].setdefault("mchirp_source", None)
    buf = io.BytesIO()
    fastavro.writer(buf, _avro_schema(), [doc])
    out = AlertProcessor(gcn_settings()).process(buf.getvalue(), path="ms.avro")
    assert out.status == "written" and out.problems == []
    assert (out.alert_dir / "MS181101ab-preliminary.avro").read_bytes() == buf.getvalue()
    meta = yaml.safe_load((out.alert_dir / "meta.yaml").read_text())
    assert meta["EXTRA"]["area90"] == 30.975 and meta["EXTRA"]["notice_format"] == "avro"
    schemaless = io.BytesIO()
    fastavro.schemaless_writer(schemaless, _avro_schema(), dict(doc, alert_type="INITIAL"))
    assert AlertProcessor(gcn_settings()).process(schemaless.getvalue()).status == "written"


NOTICE_STEMS = ["MS181101ab-earlywarning", "MS230425k-preliminary", "MS230425k-initial",
                "MS230425k-retraction", "S230518h-initial"]


def test_real_notices_satisfy_the_official_json_schema(notice_json):
    """Every real notice validates against igwn-gwalert-schema's own JSON Schema, also with the
    pre-O4 alert_type spelling EARLY_WARNING."""
    from skysift.skymaps.notice import schema_problems

    for stem in NOTICE_STEMS:
        assert schema_problems(notice_json(stem)) == [], stem
    old = notice_json("MS181101ab-earlywarning")
    old["alert_type"] = "EARLY_WARNING"
    assert schema_problems(old) == []


def test_schema_violations_say_where_and_what(gcn_settings, notice_json):
    """A JSON notice that breaks the official schema is still filed as far as it can be; each
    violation is a problem naming the field (inside the branch meant: an event object, not
    null), kept in meta.yaml, and the raw notice goes to the rejected folder."""
    from skysift.skymaps.notice import schema_problems

    doc = notice_json("S230518h-initial")
    doc["event"]["far"] = "often"
    doc["event"].pop("search")
    doc["urls"] = 5
    doc["event"]["skymap"] = doc["event"]["skymap"]  # unchanged: the map still decodes
    problems = schema_problems(doc)
    assert problems == ["schema: event: 'search' is a required property",
                        "schema: event.far: 'often' is not of type 'number'",
                        "schema: urls: 5 is not of type 'object'"]
    doc2 = notice_json("S230518h-initial")
    doc2["event"] = 7
    assert schema_problems(doc2) == ["schema: event: 7 is not of type 'null' or 'object'"]
    doc3 = notice_json("S230518h-initial")
    doc3["external_coinc"] = {"observatory": "Fermi", "ivorn": "x" * 5000}
    msgs = schema_problems(doc3)
    assert msgs[0] == "schema: external_coinc: 'gcn_notice_id' is a required property"
    assert all(len(m) < 260 for m in msgs)

    s = gcn_settings()
    bad = notice_json("S230518h-initial")
    bad["event"]["instruments"] = "H1,L1"
    out = AlertProcessor(s).process(_raw(bad), path="bad-schema.json")
    assert out.status == "written"
    assert out.problems == ["schema: event.instruments: 'H1,L1' is not of type 'array'"]
    meta = yaml.safe_load((out.alert_dir / "meta.yaml").read_text())
    assert meta["EXTRA"]["problems"] == out.problems
    assert (s.download_dir / "rejected" / "bad-schema.json").exists()


def test_an_avro_container_with_its_own_schema_is_checked_too(gcn_settings, notice_json):
    """An Avro container file carries its own writer schema: a notice written with one that
    lacks a required field is filed with the official schema's verdict as a problem."""
    import fastavro

    from skysift.skymaps.notice import _avro_schema

    doc = notice_json("S230518h-initial")
    doc["event"]["skymap"] = base64.b64decode(doc["event"]["skymap"])
    doc["event"].setdefault("mchirp_source", None)
    schema = json.loads(fastavro.schema.to_parsing_canonical_form(_avro_schema()))
    event = next(f for f in schema["fields"] if f["name"] == "event")
    record = next(b for b in event["type"] if isinstance(b, dict))
    record["fields"] = [f for f in record["fields"] if f["name"] != "significant"]
    doc["event"].pop("significant")
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(schema), [doc])
    out = AlertProcessor(gcn_settings()).process(buf.getvalue(), path="own-schema.avro")
    assert out.status == "written"
    assert out.problems == ["schema: event: 'significant' is a required property"]
