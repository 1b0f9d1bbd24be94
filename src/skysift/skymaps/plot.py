"""An all-sky Hammer projection of a multi-order sky map, with a side panel of event facts.

The map is drawn as an image computed directly in the projected plane (each image pixel is
inverse-projected and looked up in the multi-order map), which is fast and exact at any zoom. The
50 % and 90 % contours are contours of the credible-level image, so they follow the same rule as the
areas. RA increases to the left, centred on 12h; the Sun and Moon exclusion zones are small circles
drawn from their angular-distance field, so they wrap around the edges correctly.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skysift.errors import SkymapError
from skysift.skymaps.credible import SR_TO_DEG2, credible_levels
from skysift.skymaps.lookup import rows_at
from skysift.skymaps.multiorder import MultiOrderMap
from skysift.skymaps.projection import X_MAX, Y_MAX, hammer, inverse_hammer
from skysift.skymaps.credible import credible_area
from skysift.skymaps.credible import peak, region_mask

__all__ = ["PlotOptions", "render_skymap", "zoom_extent"]

_CONTOURS = {0.5: "#d62728", 0.9: "#1f77b4"}


@dataclass
class PlotOptions:
    """What to draw besides the probability.

    ``sun`` / ``moon`` are (RA, Dec) in degrees or None; ``panel`` is a list of (label, value) lines
    for the side panel; ``areas`` maps credible level to deg² for the legend.
    """

    galactic_plane: bool = True
    sun: tuple[float, float] | None = None
    moon: tuple[float, float] | None = None
    sun_radius: float = 33.0
    moon_radius: float = 20.0
    panel: list[tuple[str, str]] = field(default_factory=list)
    title: str = ""
    areas: Mapping[float, float | None] = field(default_factory=dict)
    width_px: int = 1000
    dpi: int = 130
    #: positions (RA, Dec in degrees) to mark on the map, e.g. the objects an event hit
    marks: list[tuple[float, float]] = field(default_factory=list)
    marks_label: str = "objects"
    #: draw a zoomed inset around the 90% region when it is smaller than this (deg²) and fits
    #: in :data:`INSET_MAX_HALF_WIDTH`; 0 = never
    inset_max_area: float = 2000.0


#: The zoom is a tangent-plane (gnomonic) view: beyond this half-width (degrees from the peak)
#: its axes stop reading as degrees on the sky (tan 20° = 0.364 rad = 20.9°, 4% off), so a
#: region spread wider than that gets no zoom.
INSET_MAX_HALF_WIDTH = 20.0
#: The width the zoom's column adds to the figure, as a fraction of the figure without it.
INSET_COLUMN = 0.32


def _xy(ra_deg: np.ndarray, dec_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.radians(180.0 - np.asarray(ra_deg, dtype=float))
    lon = (lon + np.pi) % (2 * np.pi) - np.pi
    return hammer(lon, np.radians(np.asarray(dec_deg, dtype=float)))


def _line(ax, ra: np.ndarray, dec: np.ndarray, **kw) -> None:
    """Draw a sky line, broken where it wraps around the projection's edge."""
    x, y = _xy(ra, dec)
    lon = (180.0 - np.asarray(ra, dtype=float) + 180.0) % 360.0
    jumps = np.flatnonzero(np.abs(np.diff(lon)) > 180.0)
    for seg in np.split(np.arange(x.size), jumps + 1):
        if seg.size > 1:
            ax.plot(x[seg], y[seg], **kw)


def _unit(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def render_skymap(m: MultiOrderMap, path: Path, options: PlotOptions | None = None) -> Path:
    """Render ``m`` to a PNG at ``path`` (written to a temporary file, then moved into place)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    opt = options or PlotOptions()
    w = opt.width_px
    h = w // 2
    xs = np.linspace(-X_MAX, X_MAX, w)
    ys = np.linspace(-Y_MAX, Y_MAX, h)
    gx, gy = np.meshgrid(xs, ys)
    lon, lat, inside = inverse_hammer(gx, gy)
    ra = (180.0 - np.degrees(lon[inside])) % 360.0
    dec = np.degrees(lat[inside])
    rows = rows_at(m, ra, dec)
    density = np.full(gx.shape, np.nan)
    density[inside] = m.probdensity[rows] / SR_TO_DEG2
    level_img = np.full(gx.shape, np.nan)
    level_img[inside] = credible_levels(m)[rows]

    # the zoom gets a column of its own on the right (drawn over the side panel, it hid the
    # classification); none where the 90% region is too wide for a tangent-plane view
    zoom = _zoom_for(m, opt)
    extra = INSET_COLUMN if zoom is not None else 0.0
    k = 1.0 / (1.0 + extra)  # the layout below in fractions of the figure without the zoom

    fig = plt.figure(figsize=(w / opt.dpi * 1.45 * (1.0 + extra), h / opt.dpi * 1.25),
                     dpi=opt.dpi)
    ax = fig.add_axes((0.01 * k, 0.13, 0.68 * k, 0.80))
    cax = fig.add_axes((0.12 * k, 0.085, 0.46 * k, 0.025))
    side = fig.add_axes((0.70 * k, 0.05, 0.29 * k, 0.9))
    side.axis("off")
    ax.set_axis_off()
    ax.set_aspect("equal")
    extent = (-X_MAX, X_MAX, -Y_MAX, Y_MAX)
    im = ax.imshow(density, origin="lower", extent=extent, cmap="cividis", interpolation="nearest")
    cb = fig.colorbar(im, cax=cax, orientation="horizontal")
    cb.set_label("probability per deg²", fontsize=8)
    cb.ax.tick_params(labelsize=7)

    handles = []
    for lev, colour in _CONTOURS.items():
        ax.contour(gx, gy, np.nan_to_num(level_img, nan=1.0), levels=[lev], colors=[colour],
                   linewidths=1.2)
        area = opt.areas.get(lev)
        text = f"{lev:.0%}" + (f": {area:,.1f} deg²" if area is not None else "")
        handles.append(Line2D([], [], color=colour, lw=1.5, label=text))

    # graticule
    t = np.linspace(0, 360, 721)
    for d in range(-60, 90, 30):
        _line(ax, t, np.full_like(t, d), color="white", lw=0.4, alpha=0.5)
    s = np.linspace(-90, 90, 361)
    for r in range(0, 360, 30):
        _line(ax, np.full_like(s, r + 1e-9), s, color="white", lw=0.4, alpha=0.5)
    for r in range(30, 360, 60):
        x, y = _xy(np.array([r]), np.array([0.0]))
        ax.text(x[0], y[0], f"{r // 15}h", color="white", fontsize=7, ha="center", va="bottom")
    for d in (-60, -30, 30, 60):
        x, y = _xy(np.array([359.999]), np.array([d]))
        ax.text(x[0] - 0.05, y[0], f"{d:+d}°", fontsize=7, ha="right", va="center")
    x, y = _xy(np.array([359.999]), np.array([0.0]))  # the equator meets the edge: label inside
    ax.text(x[0] + 0.06, y[0] + 0.03, "0°", color="white", fontsize=7, ha="left", va="bottom")
    edge = np.linspace(0, 2 * np.pi, 400)
    ax.plot(X_MAX * np.cos(edge), Y_MAX * np.sin(edge), color="black", lw=0.8)

    if opt.galactic_plane:
        from astropy.coordinates import SkyCoord

        gl = np.linspace(0, 360, 721)
        icrs = SkyCoord(l=gl, b=np.zeros_like(gl), unit="deg", frame="galactic").icrs
        _line(ax, icrs.ra.deg, icrs.dec.deg, color="#ff7f0e", lw=1.0, ls="--")
        handles.append(Line2D([], [], color="#ff7f0e", lw=1.0, ls="--", label="Galactic plane"))
    grid_xyz = _unit(ra, dec)
    for body, radius, colour, marker in ((opt.sun, opt.sun_radius, "#ffd000", "o"),
                                         (opt.moon, opt.moon_radius, "#b0b0b0", "o")):
        if body is None:
            continue
        sep = np.full(gx.shape, 180.0)
        cosang = np.clip(grid_xyz @ _unit(np.array(body[0]), np.array(body[1])), -1, 1)
        sep[inside] = np.degrees(np.arccos(cosang))
        ax.contourf(gx, gy, sep, levels=[0, radius], colors=[colour], alpha=0.25)
        ax.contour(gx, gy, sep, levels=[radius], colors=[colour], linewidths=0.8)
        x, y = _xy(np.array([body[0]]), np.array([body[1]]))
        name = "Sun" if body is opt.sun else "Moon"
        ax.plot(x, y, marker=marker, color=colour, mec="black", ms=8, ls="none")
        handles.append(Line2D([], [], marker=marker, color=colour, mec="black", ls="none",
                              label=f"{name} ({radius:.0f}° zone)"))
    if opt.marks:
        mx, my = _xy(np.array([m[0] for m in opt.marks]), np.array([m[1] for m in opt.marks]))
        ax.plot(mx, my, marker="x", color="#e7298a", ms=6, mew=1.5, ls="none")
        handles.append(Line2D([], [], marker="x", color="#e7298a", mew=1.5, ls="none",
                              label=f"{opt.marks_label} ({len(opt.marks)})"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(-0.01, 1.02), fontsize=7,
              framealpha=0.9)  # the empty corner outside the ellipse
    if opt.title:
        ax.set_title(opt.title, fontsize=11)

    if zoom is not None:
        _zoom_inset(fig, m, opt, zoom, (1.0 - (extra - 0.045) * k, 0.2,
                                        (extra - 0.06) * k, 0.62))

    y_text = 1.0
    for label, value in opt.panel:
        if label:
            side.text(0.0, y_text, label, fontsize=8, fontweight="bold", va="top",
                      transform=side.transAxes)
            side.text(0.36, y_text, value, fontsize=8, va="top", transform=side.transAxes,
                      wrap=True)
        y_text -= 0.045 * (1 + value.count("\n"))

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=opt.dpi)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SkymapError(f"cannot write plot: {exc}", path=str(path)) from exc
    finally:
        plt.close(fig)
    return path


def _zoom_for(m: MultiOrderMap, opt: PlotOptions) -> tuple[float, float, float] | None:
    """The zoom to draw (:func:`zoom_extent`), or None: the option is off, the 90% region is
    larger than ``opt.inset_max_area`` or wider than :data:`INSET_MAX_HALF_WIDTH`."""
    if opt.inset_max_area <= 0:
        return None
    area90 = opt.areas.get(0.9)
    if area90 is None:
        area90 = credible_area(m, 0.9)
    if area90 is None or area90 >= opt.inset_max_area:
        return None
    zoom = zoom_extent(m)
    return zoom if zoom[2] <= INSET_MAX_HALF_WIDTH else None


def zoom_extent(m: MultiOrderMap, levels: np.ndarray | None = None) -> tuple[float, float, float]:
    """(ra, dec) of the densest pixel and the half-width in degrees of a square around it that
    holds the whole 90% region (its farthest pixel centre, plus a margin; at least 1 degree)."""
    from astropy_healpix import healpix_to_lonlat, level_to_nside


    top = peak(m)
    mask = region_mask(m, 0.9, levels)
    if not mask.any():
        return top.ra, top.dec, 1.0
    ra = np.empty(int(mask.sum()))
    dec = np.empty_like(ra)
    rows = np.flatnonzero(mask)
    for lev in np.unique(m.level[rows]):
        sel = m.level[rows] == lev
        lon, lat = healpix_to_lonlat(m.ipix[rows[sel]], level_to_nside(int(lev)), order="nested")
        ra[sel], dec[sel] = lon.deg, lat.deg
    cos_sep = np.clip(_unit(ra, dec) @ _unit(np.array(top.ra), np.array(top.dec)), -1, 1)
    far = float(np.degrees(np.arccos(cos_sep)).max())
    return top.ra, top.dec, max(1.0, far * 1.15 + 0.5)


def _zoom_inset(fig, m: MultiOrderMap, opt: PlotOptions, zoom: tuple[float, float, float],
                rect: tuple[float, float, float, float]) -> None:
    """A zoomed view around the 90% region (gnomonic projection about the densest pixel, ``zoom``
    from :func:`zoom_extent`) in the figure rectangle ``rect``: the density, the 50% and 90%
    contours, the peak, and axes in degrees as the scale."""
    levels = credible_levels(m)
    ra0, dec0, half = zoom
    n = 240
    xi = np.linspace(-half, half, n)
    gx, gy = np.meshgrid(xi, xi)
    # inverse gnomonic projection (tangent plane at ra0, dec0), offsets in degrees
    x, y = np.radians(gx), np.radians(gy)
    d0, a0 = np.radians(dec0), np.radians(ra0)
    rho = np.hypot(x, y)
    c = np.arctan(rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        dec = np.arcsin(np.cos(c) * np.sin(d0) + np.where(rho > 0,
                                                          y * np.sin(c) * np.cos(d0) / rho, 0))
        ra = a0 + np.arctan2(x * np.sin(c),
                             rho * np.cos(d0) * np.cos(c) - y * np.sin(d0) * np.sin(c))
    ra_deg = np.degrees(ra) % 360.0
    dec_deg = np.degrees(dec)
    rows = rows_at(m, ra_deg.ravel(), dec_deg.ravel())
    dens = (m.probdensity[rows] / SR_TO_DEG2).reshape(gx.shape)
    lev = levels[rows].reshape(gx.shape)
    ax = fig.add_axes(rect)
    # RA increases to the left, as on the sky
    ax.imshow(dens, origin="lower", extent=(half, -half, -half, half), cmap="cividis",
              interpolation="nearest")
    for level, colour in _CONTOURS.items():
        ax.contour(-gx, gy, lev, levels=[level], colors=[colour], linewidths=1.0)
    ax.plot([0], [0], marker="*", color="white", mec="black", ms=10, ls="none")
    if opt.marks:
        mra = np.radians(np.array([p[0] for p in opt.marks]))
        mdec = np.radians(np.array([p[1] for p in opt.marks]))
        cosc = np.sin(d0) * np.sin(mdec) + np.cos(d0) * np.cos(mdec) * np.cos(mra - a0)
        ok = cosc > 0
        mx = np.degrees(np.cos(mdec) * np.sin(mra - a0) / cosc)[ok]
        my = np.degrees((np.cos(d0) * np.sin(mdec) - np.sin(d0) * np.cos(mdec)
                         * np.cos(mra - a0)) / cosc)[ok]
        ax.plot(-mx, my, marker="x", color="#e7298a", ms=5, mew=1.2, ls="none")
    ax.set_xlim(half, -half)
    ax.set_ylim(-half, half)
    ax.tick_params(labelsize=6)
    ax.set_xlabel("ΔRA cos δ (deg, east left)", fontsize=6)
    ax.set_ylabel("ΔDec (deg)", fontsize=6)
    ax.set_title(f"zoom on the peak (★ {ra0:.2f}°, {dec0:+.2f}°)", fontsize=7)
