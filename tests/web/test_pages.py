"""Pages anyone can read (home, object, search, schema), and bad input: always a 400, never a
500."""

from __future__ import annotations

import html
import json
import re

import pytest
import sqlalchemy as sa

from skysift.store.schema import objects, sources


def test_home_shows_the_state_of_the_stream(browser, alerts_ingested, web_engine):
    text = browser().get("/").text
    cards = {label.strip(): int(num.replace(",", "")) for num, label in re.findall(
        r'<div class="big">([\d,]+)</div><div>([^<(,·]+)', text)}
    with web_engine.connect() as conn:
        n_obj = conn.execute(sa.select(sa.func.count()).select_from(objects)).scalar()
    assert cards["alerts ingested today"] == alerts_ingested.ingested
    assert cards["alerts ingested in total"] == alerts_ingested.ingested
    assert cards["objects"] == n_obj


def test_object_page_has_attributes_light_curve_data_and_sources(browser, alerts_ingested,
                                                                 web_engine):
    with web_engine.connect() as conn:
        oid, n = conn.execute(sa.select(sources.c.diaObjectId, sa.func.count())
                              .where(sources.c.diaObjectId > 0)
                              .group_by(sources.c.diaObjectId)
                              .order_by(sa.func.count().desc())).first()
        ra = conn.execute(sa.select(objects.c.ra).where(objects.c.diaObjectId == oid)).scalar()
    r = browser().get(f"/objects/{oid}")
    assert r.status_code == 200
    data = json.loads(re.search(r'<script id="lc-data" type="application/json">(.*?)</script>',
                                r.text, re.DOTALL).group(1))
    points = sum(len(s["mjd"]) for s in data["series"] if s["kind"] == "detection")
    assert points == n and all(len(s["flux"]) == len(s["err"]) for s in data["series"])
    assert "/static/vendor/plotly-basic.min.js" in r.text and "cdn" not in r.text.lower()
    assert f"RA {ra:.6f}°" in r.text
    assert len(re.findall(r"<tr>", r.text.split('id="sources"')[1].split("</table>")[0])) == n + 1
    assert browser().get("/static/vendor/plotly-basic.min.js").status_code == 200


def test_cone_search_finds_an_object_at_its_own_position(browser, alerts_ingested, web_engine):
    with web_engine.connect() as conn:
        oid, ra, dec = conn.execute(sa.select(objects.c.diaObjectId, objects.c.ra,
                                              objects.c.decl)).first()
    r = browser().get(f"/search?ra={ra}&dec={dec}&radius=2")
    assert r.status_code == 200
    assert f'href="/objects/{oid}"' in r.text
    assert browser().get(f"/search?objectId={oid}").headers["location"] == f"/objects/{oid}"


def test_search_takes_sexagesimal_positions_and_ids_in_one_box(browser, alerts_ingested,
                                                               web_engine):
    """As Lasair's search box: hh:mm:ss ±dd:mm:ss, h/m/s d/m/s, degrees, or an object id."""
    from astropy.coordinates import SkyCoord

    with web_engine.connect() as conn:
        oid, ra, dec = conn.execute(sa.select(objects.c.diaObjectId, objects.c.ra,
                                              objects.c.decl)).first()
    c = SkyCoord(ra, dec, unit="deg")
    colons = c.to_string("hmsdms", sep=":", precision=3)
    letters = c.to_string("hmsdms", precision=3)  # 00h41m29.160s -45d14m38.811s
    for q in (colons, letters, f"{ra} {dec}", f"{ra}, {dec}"):
        r = browser().get("/search", params={"q": q, "radius": "2"})
        assert r.status_code == 200 and f'href="/objects/{oid}"' in r.text, q
    ra_s, dec_s = colons.split()
    r = browser().get("/search", params={"ra": ra_s, "dec": dec_s, "radius": "2"})
    assert f'href="/objects/{oid}"' in r.text
    assert browser().get("/search", params={"q": str(oid)}).headers["location"] == f"/objects/{oid}"


def test_object_page_gives_magnitudes_sexagesimal_and_galactic_positions_and_links(
        browser, alerts_ingested, web_engine):
    """What an astronomer looks at first, each number against an independent computation."""
    import math
    from urllib.parse import parse_qs, urlparse

    from astropy.coordinates import SkyCoord

    with web_engine.connect() as conn:
        oid = conn.execute(sa.select(sources.c.diaObjectId)
                           .join(objects, objects.c.diaObjectId == sources.c.diaObjectId)
                           .where(sources.c.psfFlux > 0)
                           .order_by(sources.c.diaObjectId)).scalars().first()
        ra, dec = conn.execute(sa.select(objects.c.ra, objects.c.decl)
                               .where(objects.c.diaObjectId == oid)).one()
        flux, err = conn.execute(sa.select(sources.c.psfFlux, sources.c.psfFluxErr)
                                 .where(sources.c.diaObjectId == oid, sources.c.psfFlux > 0)
                                 .order_by(sources.c.midpointMjdTai.desc())).first()
    text = browser().get(f"/objects/{oid}").text
    c = SkyCoord(ra, dec, unit="deg")
    hms, dms = re.search(r'id="sexagesimal">(\S+) (\S+)</span>', text).groups()
    back = SkyCoord(hms, dms, unit=("hourangle", "deg"))
    assert back.separation(c).arcsec < 0.1  # 0.01 s of RA, 0.1 arcsec of Dec
    gal_l, gal_b = map(float, re.search(r'id="galactic">l ([\d.]+)°, b ([+-][\d.]+)°',
                                        text).groups())
    assert gal_l == pytest.approx(c.galactic.l.deg, abs=1e-5)
    assert gal_b == pytest.approx(c.galactic.b.deg, abs=1e-5)
    # the newest detection's AB magnitude: m = -2.5 log10(f / 3631 Jy), f in nJy
    mag, mag_err = map(float, re.search(r'<td class="mag">([\d.]+) ± ([\d.]+)</td>',
                                        text).groups())
    assert mag == pytest.approx(-2.5 * math.log10(flux * 1e-9 / 3631), abs=1e-3)
    assert mag_err == pytest.approx(2.5 / math.log(10) * err / flux, abs=1e-3)
    links = dict(re.findall(r'<a href="([^"]+)" rel="noopener noreferrer" '
                            r'target="_blank">([^<]+)</a>',
                            text.split('id="links-out"')[1].split("</p>")[0]))
    by_name = {v: html.unescape(k) for k, v in links.items()}
    assert set(by_name) == {"TNS", "SIMBAD", "NED", "Legacy Survey", "Aladin"}
    tns = parse_qs(urlparse(by_name["TNS"]).query)
    assert float(tns["ra"][0]) == pytest.approx(ra, abs=1e-6)
    assert float(tns["decl"][0]) == pytest.approx(dec, abs=1e-6)
    simbad = parse_qs(urlparse(by_name["SIMBAD"]).query)["Coord"][0].split()
    assert [float(x) for x in simbad] == [pytest.approx(ra, abs=1e-6), pytest.approx(dec, abs=1e-6)]


def test_schema_page_lists_every_filter_column_with_its_meaning(browser):
    from skysift.store.columns import COLUMNS

    text = browser().get("/schema").text
    for c in COLUMNS:
        assert f"<code>{c.name}</code>" in text


def test_bad_input_gets_a_400_with_a_clear_message(browser, unique_name):
    b = browser()
    cases = {
        "/search?ra=abc&dec=1": "RA &#39;abc&#39; is neither degrees nor hh:mm:ss",
        "/search?ra=400&dec=1": "between 0 and 360",
        "/search?ra=10&dec=-91": "between -90 and 90",
        "/search?ra=10&dec=1&radius=1e9": "radius",
        "/search?ra=nan&dec=1": "RA &#39;nan&#39; is neither degrees nor hh:mm:ss",
        "/search?q=10.4+100": "Dec 100 is not between -90 and 90",
        "/search?q=hello": "is not a position",
        "/search?ra=10&dec=1&radius=0": "more than 0",
        "/search?objectId=12ab": "whole number",
        "/objects/not-a-number": "whole number",
        "/objects/99999999999999999999999": "between 0 and",
        "/objects/-5": "between",
        "/filters/abc": "whole number",
        "/filters/99999999999": "between",
    }
    for path, message in cases.items():
        r = b.get(path)
        assert r.status_code == 400, path
        assert message in r.text, (path, r.text[-800:])
    assert b.get("/objects/12345").status_code == 404
    b.signup(unique_name("bad").replace("-", "_"))
    big = {"action": "save", "selected": "objects.ra", "name": "n" * 101}
    r = b.submit("/filters/new", big, form_page="/filters/new")
    assert r.status_code == 400 and "name is too long" in r.text
    r = b.submit("/filters/new", {"action": "save", "selected": "objects.ra", "name": "ok",
                                  "output": "carrier-pigeon"}, form_page="/filters/new")
    assert r.status_code == 400 and "output must be one of" in r.text
    r = b.client.post("/filters/new", content=b"x" * (3 * 1024 * 1024),
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
