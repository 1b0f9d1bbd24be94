"""Where the Sun and the Moon are, seen from the Earth's centre, at a time.

Directions are GCRS right ascension and declination, whose axes are those of ICRS to within
aberration (20"), which is what a sky map in equatorial coordinates needs. (Transforming to ICRS
instead would move the origin to the solar-system barycentre and put the Sun in the wrong place.)
"""

from __future__ import annotations

__all__ = ["sun_moon"]


def sun_moon(isot: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """((RA, Dec) of the Sun, (RA, Dec) of the Moon) in degrees at UTC time ``isot``.

    Uses astropy's built-in ephemeris, so it needs no download.

    >>> (sun_ra, sun_dec), _ = sun_moon("2018-11-01T22:22:46")
    >>> round(sun_ra), round(sun_dec)
    (217, -15)
    """
    from astropy.coordinates import get_body
    from astropy.time import Time

    t = Time(isot, scale="utc")
    sun = get_body("sun", t)
    moon = get_body("moon", t)
    return (float(sun.ra.deg), float(sun.dec.deg)), (float(moon.ra.deg), float(moon.dec.deg))
