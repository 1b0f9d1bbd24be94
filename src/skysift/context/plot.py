"""All-sky pictures of the context: a watchlist's cones, a watchmap's area (Hammer projection,
RA increasing to the left and centred on 12h, as the GCN listener's sky-map plots)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
from skysift.skymaps.plot import _line, _xy
from skysift.skymaps.projection import X_MAX, Y_MAX
from skysift.skymaps.projection import inverse_hammer

if TYPE_CHECKING:  # pragma: no cover
    from mocpy import MOC

__all__ = ["render_cones", "render_moc"]

MAX_POINTS = 50_000


def _axes(title: str, width_px: int = 900, dpi: int = 110):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt


    fig = plt.figure(figsize=(width_px / dpi, width_px / dpi / 2), dpi=dpi)
    ax = fig.add_axes((0.01, 0.02, 0.98, 0.9))
    ax.set_axis_off()
    ax.set_aspect("equal")
    t = np.linspace(0, 360, 721)
    for d in range(-60, 90, 30):
        _line(ax, t, np.full_like(t, d), color="#999", lw=0.4)
    s = np.linspace(-90, 90, 361)
    for r in range(0, 360, 30):
        _line(ax, np.full_like(s, r + 1e-9), s, color="#999", lw=0.4)
    for r in range(30, 360, 60):
        x, y = _xy(np.array([r]), np.array([0.0]))
        ax.text(x[0], y[0], f"{r // 15}h", color="#555", fontsize=7, ha="center", va="bottom")
    edge = np.linspace(0, 2 * np.pi, 400)
    ax.plot(X_MAX * np.cos(edge), Y_MAX * np.sin(edge), color="black", lw=0.8)
    ax.set_xlim(-X_MAX * 1.01, X_MAX * 1.01)
    ax.set_ylim(-Y_MAX * 1.01, Y_MAX * 1.01)
    if title:
        ax.set_title(title, fontsize=11)
    return fig, ax


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    out = io.BytesIO()
    try:
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return out.getvalue()


def render_cones(ra: np.ndarray, dec: np.ndarray, title: str = "",
                 hits: tuple[np.ndarray, np.ndarray] | None = None) -> bytes:
    """PNG of cone centres (at most 50,000 drawn, evenly sampled) and, optionally, hit objects."""

    fig, ax = _axes(title)
    ra, dec = np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)
    step = max(1, ra.size // MAX_POINTS)
    x, y = _xy(ra[::step], dec[::step])
    ax.plot(x, y, ".", ms=2 if ra.size > 2000 else 4, color="#1f77b4",
            label=f"cones ({ra.size:,}{', sampled' if step > 1 else ''})")
    if hits is not None and len(hits[0]):
        hx, hy = _xy(np.asarray(hits[0]), np.asarray(hits[1]))
        ax.plot(hx, hy, "x", ms=6, mew=1.5, color="#e7298a", label=f"hits ({len(hits[0]):,})")
    ax.legend(loc="upper left", fontsize=7)
    return _png(fig)


def render_moc(moc: MOC, title: str = "", width_px: int = 900) -> bytes:
    """PNG of a MOC's area: every image pixel inside the MOC is filled."""
    import astropy.units as u


    fig, ax = _axes(title, width_px)
    h = width_px // 2
    xs = np.linspace(-X_MAX, X_MAX, width_px)
    ys = np.linspace(-Y_MAX, Y_MAX, h)
    gx, gy = np.meshgrid(xs, ys)
    lon, lat, inside = inverse_hammer(gx, gy)
    ra = (180.0 - np.degrees(lon[inside])) % 360.0
    dec = np.degrees(lat[inside])
    img = np.full(gx.shape, np.nan)
    img[inside] = moc.contains_lonlat(ra * u.deg, dec * u.deg).astype(float)
    img[img == 0] = np.nan
    ax.imshow(img, origin="lower", extent=(-X_MAX, X_MAX, -Y_MAX, Y_MAX), cmap="autumn",
              vmin=0, vmax=1, interpolation="nearest", alpha=0.8)
    if moc.sky_fraction * 41252.96 < 5.0:  # small areas vanish at this scale: mark them
        from astropy_healpix import healpix_to_lonlat, level_to_nside


        order = min(int(moc.max_order), 10)
        cells = np.asarray(moc.degrade_to_order(order).flatten(), dtype=np.int64)[:MAX_POINTS]
        lon_c, lat_c = healpix_to_lonlat(cells, level_to_nside(order), order="nested")
        mx, my = _xy(lon_c.to_value(u.deg), lat_c.to_value(u.deg))
        ax.plot(mx, my, "s", ms=3, color="#d95f02", label="area (marked: small)")
        ax.legend(loc="upper left", fontsize=7)
    return _png(fig)
