"""keep_cutouts: each alert's science, template and difference stamps kept on disk, the newest
three shown on the object page, scaled for viewing."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_cutouts_are_kept_and_shown_only_when_asked(make_settings, store_url, kafka_bootstrap):
    from fastapi.testclient import TestClient
    from matplotlib.image import imread

    from skysift.alerts.decode import decode_record
    from skysift.alerts.files import iter_alert_files, read_alerts
    from skysift.ingest import ingest_files
    from skysift.store.cutouts import image_of
    from skysift.store.database import open_store
    from skysift.web.app import create_app

    alerts = [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)
              if a.diaObjectId is not None]
    for keep in (False, True):
        settings = make_settings(kafka=kafka_bootstrap, database=store_url, keep_cutouts=keep,
                                 data_dir=Path(store_url.split("///")[1]).parent / f"d{keep}")
        engine = open_store(settings.database_url)
        ingest_files(settings, [RUBIN], progress=False, engine=engine)
        root = settings.data_dir / "cutouts"
        client = TestClient(create_app(settings, engine))
        a = max(alerts, key=lambda x: x.diaObjectId)
        sid = a.diaSource["diaSourceId"]
        page = client.get(f"/objects/{a.diaObjectId}").text
        png = client.get(f"/objects/{a.diaObjectId}/cutouts/{sid}/difference.png")
        if not keep:
            assert not root.exists() and 'id="cutouts"' not in page and png.status_code == 404
            engine.dispose()
            continue
        kept = sorted(root.rglob("*.fits"))
        assert len(kept) == 3 * len(alerts)  # every alert with an object, three stamps each
        record = decode_record(a.raw, a.origin)
        stored = root / f"{a.diaObjectId % 1000:03d}" / str(a.diaObjectId) / f"{sid}-science.fits"
        assert stored.read_bytes() == record["cutoutScience"]  # exactly as sent
        shown = page.split('id="cutouts"')[1].split("</div>")[0]
        assert [k for k in ("science", "template", "difference")
                if f"/cutouts/{sid}/{k}.png" in shown] == ["science", "template", "difference"]
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        pixels = imread(io.BytesIO(png.content))
        img = image_of(record["cutoutDifference"])
        assert pixels.shape[:2] == (img.shape[0] * 6, img.shape[1] * 6)
        grey = pixels[..., 0]
        # the stamp's brightest pixel is drawn white, its faintest black (zscale clips both ends)
        row, col = np.unravel_index(np.nanargmax(img), img.shape)
        assert grey[::-1][row * 6, col * 6] == pytest.approx(1.0)
        row, col = np.unravel_index(np.nanargmin(img), img.shape)
        assert grey[::-1][row * 6, col * 6] == pytest.approx(0.0)
        assert client.get(f"/objects/{a.diaObjectId}/cutouts/{sid}/other.png").status_code == 404
        engine.dispose()
