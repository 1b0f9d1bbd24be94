"""Helpers of the context tests: real Rubin alerts placed where a test wants them, mock and real
LVK notices, and an independent credible-level computation with astropy-healpix."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RUBIN = ROOT / "data" / "rubin"
LVK = ROOT.parents[1] / "shared" / "data" / "lvk"
if not LVK.exists():  # the repository's checkout next to shared/ (a clone elsewhere: /work/shared)
    LVK = Path("/work/shared/data/lvk")


def rubin_alerts():
    """The real Rubin test alerts that have a diaObject, sorted by diaObjectId."""
    from skysift.alerts.files import iter_alert_files, read_alerts

    alerts = [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)]
    alerts = [a for a in alerts if not isinstance(a, Exception) and a.diaObjectId is not None]
    return sorted(alerts, key=lambda a: a.diaObjectId)


def placed(alert, ra: float, dec: float):
    """A copy of ``alert`` whose object (and sources) sit at (ra, dec)."""
    a = copy.deepcopy(alert)
    for record in [a.diaObject, a.diaSource, *(a.all_sources or [])]:
        if isinstance(record, dict):
            record["ra"], record["dec"] = ra, dec
    return a


def mjd_to_datetime(mjd_tai: float) -> datetime:
    from astropy.time import Time

    return Time(mjd_tai, format="mjd", scale="tai").utc.to_datetime(timezone=UTC)


def notice_bytes(superevent_id: str, event_mjd_tai: float, skymap: bytes | None, *,
                 alert_type: str = "PRELIMINARY", created_after_s: float = 60.0) -> bytes:
    from skysift.skymaps.mock import mock_notice

    when = mjd_to_datetime(event_mjd_tai)
    return mock_notice(superevent_id, when, skymap, alert_type=alert_type,
                       time_created=when + timedelta(seconds=created_after_s))


def real_notice_at(name: str, event_mjd_tai: float) -> bytes:
    """A real LVK notice (its real map) with its event time moved to ``event_mjd_tai``."""
    data = json.loads((LVK / "notices" / name).read_text())
    when = mjd_to_datetime(event_mjd_tai)
    data["event"]["time"] = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data["time_created"] = (when + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(data).encode()


def skymap_of(notice: bytes) -> bytes:
    return base64.b64decode(json.loads(notice)["event"]["skymap"])


def independent_contour(fits_bytes: bytes, ra: float, dec: float) -> tuple[float, float]:
    """(credible level, probability per deg2) at (ra, dec), computed without skysift's code:
    astropy reads the table, astropy-healpix finds the pixel containing the position at each
    order present, and the level is the probability of every pixel at least as dense."""
    import io

    import astropy.units as u
    from astropy.io import fits
    from astropy_healpix import level_to_nside, lonlat_to_healpix, uniq_to_level_ipix

    with fits.open(io.BytesIO(fits_bytes)) as hdus:
        uniq = np.asarray(hdus[1].data["UNIQ"], dtype=np.int64)
        dens = np.asarray(hdus[1].data["PROBDENSITY"], dtype=float)
    level, ipix = uniq_to_level_ipix(uniq)
    area = 4 * np.pi / (12 * 4.0 ** np.asarray(level))
    prob = dens * area
    row = None
    for order in np.unique(level):
        pix = int(lonlat_to_healpix(ra * u.deg, dec * u.deg, level_to_nside(int(order)),
                                    order="nested"))
        hit = np.flatnonzero((level == order) & (ipix == pix))
        if hit.size:
            row = int(hit[0])
            break
    assert row is not None, "no pixel of the map holds the position"
    contour = float(prob[dens >= dens[row]].sum())
    return contour, float(dens[row] * (np.pi / 180) ** 2)
