"""Mock gravitational-wave sky maps and notices, for the demo and for tests.

:func:`gaussian_skymap` writes a multi-order sky map in LVK's format (``UNIQ``, ``PROBDENSITY``
in sr⁻¹, ``DISTMU``/``DISTSIGMA`` in Mpc, ``DISTNORM`` in Mpc⁻²) whose probability is a
Fisher (spherical Gaussian) distribution of width ``sigma_deg`` around a position, refined
like BAYESTAR's maps: every pixel holding more than a small share of the probability is split
until ``max_order``. :func:`mock_notice` wraps a map in an LVK notice (the igwn-gwalert-schema
JSON form) for a mock superevent (ids starting with ``M``, as LVK's own mock events).
"""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np

__all__ = ["gaussian_skymap", "mock_notice"]


def _log_density(ra_deg: np.ndarray, dec_deg: np.ndarray, ra0: float, dec0: float,
                 kappa: float, closer_rad: float = 0.0) -> np.ndarray:
    """log of the Fisher density (sr⁻¹) at positions, stable for large kappa; with
    ``closer_rad``, at a point that much closer to the centre (the most a pixel of that radius
    may hold)."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    r0, d0 = np.radians(ra0), np.radians(dec0)
    cos_t = np.sin(dec) * np.sin(d0) + np.cos(dec) * np.cos(d0) * np.cos(ra - r0)
    theta = np.maximum(np.arccos(np.clip(cos_t, -1, 1)) - closer_rad, 0.0)
    # f = kappa / (2 pi (1 - exp(-2 kappa))) * exp(kappa (cos t - 1))
    return (np.log(kappa) - np.log(2 * np.pi) - np.log1p(-np.exp(-2 * kappa))
            + kappa * (np.cos(theta) - 1))


def gaussian_skymap(ra_deg: float, dec_deg: float, sigma_deg: float, *,
                    distance_mpc: tuple[float, float] = (40.0, 8.0), min_order: int = 3,
                    max_order: int = 9, mjd_obs: float | None = None,
                    object_name: str = "mock") -> bytes:
    """FITS bytes of a multi-order map centred on (ra, dec) with width ``sigma_deg``.

    Examples
    --------
    >>> from skysift.skymaps.multiorder import read_multiorder
    >>> m = read_multiorder(gaussian_skymap(150.0, 2.0, 2.0))
    >>> round(float(m.prob.sum()), 6), int(m.max_level)
    (1.0, 9)
    """
    import astropy.units as u
    from astropy.io import fits
    from astropy_healpix import healpix_to_lonlat, level_ipix_to_uniq, level_to_nside

    if not (sigma_deg > 0 and -90 <= dec_deg <= 90 and max_order >= min_order >= 0):
        raise ValueError("need sigma_deg > 0, |dec| <= 90 and max_order >= min_order >= 0")
    kappa = 1.0 / np.radians(sigma_deg) ** 2
    levels: list[np.ndarray] = []
    pixels: list[np.ndarray] = []
    current = np.arange(12 * 4**min_order, dtype=np.int64)
    for order in range(min_order, max_order + 1):
        nside = level_to_nside(order)
        lon, lat = healpix_to_lonlat(current, nside, order="nested")
        area = 4 * np.pi / (12 * 4**order)
        # the most probability the pixel may hold: the density at its point nearest the centre
        # (a pixel lies within 1.5 resolutions of its centre), times its area
        prob = np.exp(_log_density(lon.to_value(u.deg), lat.to_value(u.deg), ra_deg, dec_deg,
                                   kappa, closer_rad=1.5 * np.sqrt(area))) * area
        split = prob > 1e-4 if order < max_order else np.zeros(current.size, dtype=bool)
        levels.append(np.full(int((~split).sum()), order))
        pixels.append(current[~split])
        current = (current[split][:, None] * 4 + np.arange(4)).reshape(-1)
    level = np.concatenate(levels)
    ipix = np.concatenate(pixels)
    lon, lat = zip(*(healpix_to_lonlat(ipix[level == o], level_to_nside(o), order="nested")
                     for o in np.unique(level)), strict=True)
    ra = np.concatenate([x.to_value(u.deg) for x in lon])
    dec = np.concatenate([x.to_value(u.deg) for x in lat])
    order_of = np.concatenate([level[level == o] for o in np.unique(level)])
    ipix = np.concatenate([ipix[level == o] for o in np.unique(level)])
    density = np.exp(_log_density(ra, dec, ra_deg, dec_deg, kappa))
    area = 4 * np.pi / (12 * 4.0**order_of)
    density = density / float((density * area).sum())  # exactly 1 over the sky
    mean, std = distance_mpc
    uniq = np.asarray(level_ipix_to_uniq(order_of, ipix), dtype=np.int64)
    columns = [
        fits.Column("UNIQ", "K", array=uniq),
        fits.Column("PROBDENSITY", "D", unit="sr-1", array=density),
        fits.Column("DISTMU", "D", unit="Mpc", array=np.full(uniq.size, mean)),
        fits.Column("DISTSIGMA", "D", unit="Mpc", array=np.full(uniq.size, std)),
        fits.Column("DISTNORM", "D", unit="Mpc-2",
                    array=np.full(uniq.size, 1.0 / (mean**2 + std**2))),
    ]
    hdu = fits.BinTableHDU.from_columns(columns)
    h = hdu.header
    h["PIXTYPE"], h["ORDERING"], h["COORDSYS"] = "HEALPIX", "NUNIQ", "C"
    h["MOCORDER"], h["INDXSCHM"] = max_order, "EXPLICIT"
    h["OBJECT"], h["CREATOR"] = object_name, "skysift.skymaps.mock"
    h["DISTMEAN"], h["DISTSTD"] = mean, std
    if mjd_obs is not None:
        h["MJD-OBS"] = mjd_obs
    out = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(out)
    return out.getvalue()


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mock_notice(superevent_id: str, event_time: datetime, skymap: bytes | None, *,
                alert_type: str = "PRELIMINARY", time_created: datetime | None = None,
                classification: dict[str, float] | None = None,
                properties: dict[str, float] | None = None, far: float = 1e-10) -> bytes:
    """JSON bytes of an LVK notice (igwn-gwalert-schema's form) for a mock event."""
    created = time_created or event_time
    event: dict[str, Any] | None = None
    if alert_type != "RETRACTION":
        event = {
            "time": _iso(event_time), "far": far, "significant": True,
            "instruments": ["H1", "L1"], "group": "CBC", "pipeline": "mock", "search": "MDC",
            "properties": properties or {"HasNS": 0.99, "HasRemnant": 0.9, "HasMassGap": 0.01},
            "classification": classification or {"BNS": 0.95, "NSBH": 0.04, "BBH": 0.0,
                                                 "Terrestrial": 0.01},
            "duration": None, "central_frequency": None,
            "skymap": base64.b64encode(skymap).decode() if skymap is not None else None,
        }
    notice = {"alert_type": alert_type, "time_created": _iso(created),
              "superevent_id": superevent_id,
              "urls": {"gracedb": f"https://gracedb.ligo.org/superevents/{superevent_id}/view/"},
              "event": event, "external_coinc": None}
    return json.dumps(notice).encode()
