"""The Hammer equal-area all-sky projection, forward and inverse, in numpy.

``lon`` runs from -π to π (centre 0), ``lat`` from -π/2 to π/2. The projected plane is the ellipse
``(x / 2√2)² + (y / √2)² <= 1``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["X_MAX", "Y_MAX", "hammer", "inverse_hammer"]

X_MAX = 2.0 * np.sqrt(2.0)
Y_MAX = np.sqrt(2.0)


def hammer(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project (lon, lat) in radians to Hammer (x, y).

    >>> x, y = hammer(np.array([0.0]), np.array([np.pi / 2]))
    >>> round(float(x[0]), 6), round(float(y[0]), 6)
    (0.0, 1.414214)
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    d = np.sqrt(1.0 + np.cos(lat) * np.cos(lon / 2.0))
    return X_MAX * np.cos(lat) * np.sin(lon / 2.0) / d, Y_MAX * np.sin(lat) / d


def inverse_hammer(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hammer (x, y) back to (lon, lat) in radians, plus a mask of points inside the ellipse."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    inside = (x / X_MAX) ** 2 + (y / Y_MAX) ** 2 <= 1.0
    z = np.sqrt(np.clip(1.0 - (x / 4.0) ** 2 - (y / 2.0) ** 2, 0.0, None))
    lon = 2.0 * np.arctan2(z * x, 2.0 * (2.0 * z * z - 1.0))
    lat = np.arcsin(np.clip(z * y, -1.0, 1.0))
    return lon, lat, inside
