"""skysift.skymaps: multi-order HEALPix sky maps with numpy, astropy-healpix and mocpy.

Read (:func:`read_multiorder`), credible levels and areas on the native pixels
(:mod:`~skysift.skymaps.credible`), flattening with correctly resampled distances
(:func:`flatten`), the distance ansatz (:mod:`~skysift.skymaps.distance`), point lookup
(:func:`rows_at`), MOC regions (:mod:`~skysift.skymaps.regions`) and the all-sky plot
(:mod:`~skysift.skymaps.plot`).
"""

from __future__ import annotations

from skysift.skymaps.credible import (
           credible_area,
           credible_areas,
           credible_levels,
           peak,
           region_mask,
)
from skysift.skymaps.flatten import FlatMap, flatten
from skysift.skymaps.lookup import rows_at
from skysift.skymaps.multiorder import MultiOrderMap, read_multiorder

__all__ = [
           "FlatMap",
           "MultiOrderMap",
           "credible_area",
           "credible_areas",
           "credible_levels",
           "flatten",
           "peak",
           "read_multiorder",
           "region_mask",
           "rows_at",
]
