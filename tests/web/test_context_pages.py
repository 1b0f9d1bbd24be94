"""The context pages: upload a watchlist and a watchmap through the site, see them with their
sky plots, hits on the object page, GW events with their map; private ones stay private."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from skysift.store.schema import objects

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_upload_see_plot_and_keep_private(browser, alerts_ingested, web_engine, web_settings):
    with web_engine.connect() as conn:
        oid, ra, dec = conn.execute(sa.select(objects.c.diaObjectId, objects.c.ra, objects.c.decl)
                                    .order_by(objects.c.diaObjectId)).first()
    alice = browser()
    alice.signup("alice")
    token = alice.csrf("/watchlists")
    text = f"# two cones\n{ra}, {dec}, on it, 2\n{ra}, 95, bad\n"
    r = alice.client.post("/watchlists", data={"name": "secret list", "radius": "2",
                                               "csrf_token": token},
                          files={"file": ("mine.txt", text.encode(), "text/plain")})
    assert r.status_code == 303, r.text
    page_url = r.headers["location"]
    wl_id = int(page_url.rsplit("/", 1)[1])
    page = alice.get(page_url).text
    assert "1 cones kept. 1 lines left out: line 3: dec 95.0 is not between -90 and 90" in page
    # no hits until the stored objects are matched; then the object is a hit, at 0 arcsec
    r = alice.submit(f"/watchlists/{wl_id}/crossmatch", {}, form_page=page_url)
    assert r.status_code == 303
    page = alice.get(page_url).text
    hits = page.split('id="hits"')[1]
    assert f'href="/objects/{oid}"' in hits and "<td>on it</td><td>0.000</td>" in hits
    plot = alice.get(f"/watchlists/{wl_id}/sky.png")
    assert plot.status_code == 200 and plot.content.startswith(PNG)
    obj = alice.get(f"/objects/{oid}").text.split('id="context"')[1].split("</ul>")[0]
    assert f'Watchlist <a href="/watchlists/{wl_id}">secret list</a>: on it at 0.000 arcsec' in obj

    # another user, and nobody logged in: the list does not exist, nor does the hit
    bob = browser()
    bob.signup("bob")
    for who in (bob, browser()):
        assert who.get(page_url).status_code == 404
        assert who.get(f"/watchlists/{wl_id}/sky.png").status_code == 404
        assert "secret list" not in who.get("/watchlists").text
        assert "secret list" not in who.get(f"/objects/{oid}").text
    r = bob.submit(f"/watchlists/{wl_id}/delete", {}, form_page="/watchlists")
    assert r.status_code == 404

    # a watchmap from a polygon around the object: its objects are listed after ingest
    r = alice.client.post("/watchmaps", data={
        "name": "around it", "public": "1", "csrf_token": alice.csrf("/watchmaps"),
        "polygon": f"{ra - 1},{dec - 1} {ra + 1},{dec - 1} {ra + 1},{dec + 1} {ra - 1},{dec + 1}"})
    assert r.status_code == 303, r.text
    ar_url = r.headers["location"]
    assert bob.get(ar_url).status_code == 200  # public
    png = bob.get(ar_url + "/sky.png")
    assert png.status_code == 200 and png.content.startswith(PNG)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_gw_pages_show_events_their_map_and_hits(browser, alerts_ingested, web_engine,
                                                 web_settings):
    from ctx_world import notice_bytes

    from skysift.bridge import register_notices
    from skysift.skymaps.notice import decode_notice
    from skysift.skymaps.mock import gaussian_skymap

    with web_engine.connect() as conn:
        oid, ra, dec, first = conn.execute(
            sa.select(objects.c.diaObjectId, objects.c.ra, objects.c.decl,
                      objects.c.firstDiaSourceMjdTai).order_by(objects.c.diaObjectId)).first()
    notice = notice_bytes("MS261201w", first - 0.25, gaussian_skymap(ra, dec, 1.0))
    register_notices(web_engine, web_settings, [decode_notice(notice)])
    anyone = browser()
    listing = anyone.get("/gw").text
    row = listing.split('href="/gw/MS261201w"')[1].split("</tr>")[0]
    assert "<td>live</td>" in row and "PRELIMINARY" in row
    page = anyone.get("/gw/MS261201w").text
    hit = re.search(rf'href="/objects/{oid}">{oid}</a></td><td>([0-9.]+)</td><td>[^<]+</td>'
                    r"<td>([+-][0-9.]+)</td>", page)
    assert (
        hit and float(hit.group(1)) < 0.01 and float(hit.group(2)) == pytest.approx(0.25, abs=1e-3)
    )
    plot = anyone.get("/gw/MS261201w/skymap.png")
    assert plot.status_code == 200 and plot.content.startswith(PNG)
    assert "GW event <a href=\"/gw/MS261201w\">MS261201w</a>" in anyone.get(f"/objects/{oid}").text
    assert anyone.get("/gw/S000000zz").status_code == 404
    assert anyone.get("/gw/bad%20id").status_code == 400
