"""Sky-map products of one alert: statistics (EXTRA), skymap.csv, skymap.png, MOC regions."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from skysift.gcn import atomic
from skysift.gcn.settings import GcnSettings
from skysift.skymaps.credible import SR_TO_DEG2, credible_levels, peak, region_mask
from skysift.skymaps.multiorder import MultiOrderMap
from skysift.skymaps.flatten import flatten
from skysift.skymaps.regions import credible_moc, save_moc
from skysift.skymaps.plot import PlotOptions, render_skymap
from skysift.skymaps.ephemeris import sun_moon

__all__ = ["CSV_COLUMNS", "map_stats", "write_csv", "write_mocs", "write_plot"]

_CHUNK = 32768
CSV_COLUMNS = ("IPIX", "RA", "DEC", "GLON", "GLAT", "PROB", "CREDIBLE_LEVEL")


def _galactic(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from astropy.coordinates import SkyCoord

    g = SkyCoord(ra=ra, dec=dec, unit="deg", frame="icrs").galactic
    return np.asarray(g.l.deg), np.asarray(g.b.deg)


def map_stats(m: MultiOrderMap) -> tuple[dict[str, Any], np.ndarray]:
    """EXTRA's map entries (areas on the native map, peak, distance) and the credible levels."""
    levels = credible_levels(m)
    area = m.pixel_area * SR_TO_DEG2
    stats: dict[str, Any] = {
        f"area{int(p * 100)}": round(float(area[region_mask(m, p, levels)].sum()), 3)
        for p in (0.1, 0.5, 0.9)
    }
    pk = peak(m)
    gl, gb = _galactic(np.array([pk.ra]), np.array([pk.dec]))
    stats["central coordinate"] = {"equatorial": f"{pk.ra:.6f} {pk.dec:.6f}",
                                   "galactic": f"{gl[0]:.6f} {gb[0]:.6f}"}
    stats["peak"] = {"ra": pk.ra, "dec": pk.dec, "l": float(gl[0]), "b": float(gb[0])}
    for key, name in (("DISTMEAN", "distmean"), ("DISTSTD", "diststd")):
        value = m.header.get(key)
        stats[name] = (
            float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None
        )
    stats["max_order"] = m.max_level
    stats["n_pixels"] = len(m)
    stats["total_probability"] = round(float(m.prob.sum()), 9)
    return stats, levels


def write_csv(m: MultiOrderMap, path: Path, nside: int) -> Path:
    """skymap.csv: the map flattened to ``nside`` (nested), one row per pixel.

    Columns: IPIX, RA, DEC, GLON, GLAT (centres of *this* nside's pixels), PROB (sums to the map's
    total, 1), CREDIBLE_LEVEL (0-1, inclusive cumulative probability of pixels at least as probable
    on this grid) and, when the map has them, DISTMU, DISTSIGMA, DISTNORM (see skymaps.flatten).
    """
    import astropy.units as u
    from astropy_healpix import healpix_to_lonlat


    flat = flatten(m, nside)
    ipix = np.arange(flat.npix, dtype=np.int64)
    lon, lat = healpix_to_lonlat(ipix, nside, order="nested")
    ra, dec = lon.to_value(u.deg), lat.to_value(u.deg)
    gl, gb = _galactic(ra, dec)
    order = np.argsort(-flat.prob, kind="stable")
    cl = np.empty(flat.npix)
    cl[order] = np.cumsum(flat.prob[order])
    cols = [ipix, ra, dec, gl, gb, flat.prob, np.minimum(cl, 1.0)]
    names = list(CSV_COLUMNS)
    fmts = ["%d", "%.6f", "%.6f", "%.6f", "%.6f", "%.6e", "%.6f"]
    if flat.has_distance:
        cols += [flat.distmu, flat.distsigma, flat.distnorm]
        names += ["DISTMU", "DISTSIGMA", "DISTNORM"]
        fmts += ["%.6g", "%.6g", "%.6g"]
    table = np.column_stack([np.asarray(c, dtype=float) for c in cols])
    row = ",".join(fmts) + "\n"
    buf = io.StringIO()
    buf.write(",".join(names) + "\n")
    for start in range(0, table.shape[0], _CHUNK):  # one C-level format per chunk: 2x savetxt
        chunk = table[start:start + _CHUNK]
        buf.write((row * chunk.shape[0]) % tuple(chunk.ravel().tolist()))
    return atomic.write_text(path, buf.getvalue())


def write_mocs(m: MultiOrderMap, out_dir: Path, levels: np.ndarray) -> list[Path]:
    """moc50/moc90 as FITS and JSON (Aladin reads both)."""

    files = []
    for p in (0.5, 0.9):
        moc = credible_moc(m, p, levels)
        for fmt in ("fits", "json"):
            files.append(save_moc(moc, Path(out_dir) / f"moc{int(p * 100)}.{fmt}", fmt))
    return files


def write_plot(m: MultiOrderMap, path: Path, settings: GcnSettings, panel: list[tuple[str, str]],
               title: str, extra: dict[str, Any]) -> Path:
    """skymap.png with the options of ``lvk.aitoff``."""

    opt = PlotOptions(galactic_plane=settings.plot.galactic_plane, panel=panel, title=title,
                      sun_radius=settings.plot.sun_radius, moon_radius=settings.plot.moon_radius,
                      areas={0.5: extra.get("area50"), 0.9: extra.get("area90")})
    date_obs = m.header.get("DATE-OBS")
    if settings.plot.sun_moon and date_obs:
        opt.sun, opt.moon = sun_moon(str(date_obs))
    return render_skymap(m, path, opt)
