"""Object features from a light curve: the computed columns of ``objects`` (Lasair's names)."""

from __future__ import annotations

from skysift.features.compute import FEATURE_COLUMNS, compute_features, compute_features_many
from skysift.features.photometry import BANDS, SourceArrays, photometry_features
from skysift.features.sky import HEALPIX_ORDER, galactic_latitude, healpix_index

__all__ = [
    "BANDS",
    "FEATURE_COLUMNS",
    "HEALPIX_ORDER",
    "SourceArrays",
    "compute_features",
    "compute_features_many",
    "galactic_latitude",
    "healpix_index",
    "photometry_features",
]
