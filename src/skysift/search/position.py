"""Positions as people type them: decimal degrees or sexagesimal, one box or two.

RA written with colons, spaces between three parts, or ``h m s`` is in hours (``00:41:36.0``,
``00h41m36s``); a plain number is in degrees. Dec with colons, three parts or ``d m s`` / ``°′″``
is in degrees, arcminutes and arcseconds. astropy's :class:`~astropy.coordinates.Angle` does the
parsing; these functions decide the unit and check the range.
"""  # noqa: RUF002 - the prime and double prime are the symbols people type

from __future__ import annotations

import re

from skysift.errors import PositionError

__all__ = ["PositionError", "parse_dec", "parse_position", "parse_ra"]

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _sexagesimal(text: str) -> bool:
    # the prime and double prime are the symbols people type
    return bool(re.search(r"[:hdms°′″'\"]", text, re.IGNORECASE)) or len(text.split()) == 3  # noqa: RUF001


def parse_ra(text: str) -> float:
    """Right ascension in degrees, 0 <= ra < 360.

    >>> parse_ra("00:41:36.0"), parse_ra("00h41m36s"), parse_ra("10.4")
    (10.4, 10.4, 10.4)
    """
    from astropy import units as u
    from astropy.coordinates import Angle

    t = text.strip()
    if not t:
        raise PositionError("RA is empty")
    try:
        if _NUMBER.match(t):
            value = float(t)
        else:
            unit = u.deg if re.search(r"[d°]", t) else u.hourangle
            value = float(Angle(t.replace(" ", ":") if ":" not in t and len(t.split()) == 3
                                else t, unit=unit).deg)
    except (ValueError, TypeError) as exc:
        raise PositionError(f"RA '{t[:40]}' is neither degrees nor hh:mm:ss") from exc
    if not 0.0 <= value <= 360.0:
        raise PositionError(f"RA {value:g} is not between 0 and 360 degrees")
    value = round(value % 360.0, 10)
    return 0.0 if value >= 360.0 else value


def parse_dec(text: str) -> float:
    """Declination in degrees, -90 <= dec <= 90.

    >>> parse_dec("-45:12:00"), parse_dec("-45d12m00s"), parse_dec("-45.2")
    (-45.2, -45.2, -45.2)
    """
    from astropy import units as u
    from astropy.coordinates import Angle

    t = text.strip()
    if not t:
        raise PositionError("Dec is empty")
    try:
        if _NUMBER.match(t):
            value = float(t)
        else:
            value = float(Angle(t.replace(" ", ":") if ":" not in t and len(t.split()) == 3
                                else t, unit=u.deg).deg)
    except (ValueError, TypeError) as exc:
        raise PositionError(f"Dec '{t[:40]}' is neither degrees nor ±dd:mm:ss") from exc
    if not -90.0 <= value <= 90.0:
        raise PositionError(f"Dec {value:g} is not between -90 and 90 degrees")
    return round(value, 10)


def parse_position(text: str) -> tuple[float, float]:
    """(ra, dec) in degrees from one box: ``10.4 -45.2``, ``10.4, -45.2``,
    ``00:41:36.0 -45:12:00``, ``00 41 36.0 -45 12 00``, ``00h41m36s -45d12m00s``.

    >>> parse_position("00:41:36.0 -45:12:00")
    (10.4, -45.2)
    >>> parse_position("00 41 36.0 -45 12 00")
    (10.4, -45.2)
    """
    t = text.strip().replace(",", " ")
    parts = t.split()
    if len(parts) == 2:
        return parse_ra(parts[0]), parse_dec(parts[1])
    if len(parts) == 6:
        return parse_ra(" ".join(parts[:3])), parse_dec(" ".join(parts[3:]))
    raise PositionError(f"'{text.strip()[:60]}' is not a position: give RA and Dec, in degrees "
                        "or as hh:mm:ss ±dd:mm:ss")
