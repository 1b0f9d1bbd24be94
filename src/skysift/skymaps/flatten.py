"""Resample a multi-order sky map onto one HEALPix resolution (nested ordering).

Coarser pixels are split: each child keeps the parent's probability density (so its probability is
density times the child's area) and the parent's distance parameters, since the conditional distance
distribution along a line of sight does not change when a pixel is cut in four. Finer pixels are
merged: probabilities add, and the distance distribution of the merged pixel is the
probability-weighted mixture of its children's, whose mean and standard deviation are turned back
into DISTMU/DISTSIGMA/DISTNORM (see :mod:`skysift.skymaps.distance`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skysift.errors import SkymapError
from skysift.skymaps.distance import moments_to_parameters, parameters_to_moments
from skysift.skymaps.multiorder import MultiOrderMap

__all__ = ["FlatMap", "flatten", "nside_to_order"]


@dataclass(frozen=True)
class FlatMap:
    """A single-resolution map: ``prob[i]`` is the probability of nested pixel ``i`` at
    ``nside``."""

    nside: int
    prob: np.ndarray
    distmu: np.ndarray | None = None
    distsigma: np.ndarray | None = None
    distnorm: np.ndarray | None = None

    @property
    def npix(self) -> int:
        return int(self.prob.size)

    @property
    def has_distance(self) -> bool:
        return self.distmu is not None


def nside_to_order(nside: int) -> int:
    """HEALPix order of ``nside``; raises SkymapError when nside is not a power of two."""
    if nside < 1 or nside & (nside - 1) or nside > 2**29:
        raise SkymapError(f"nside must be a power of two between 1 and 2**29, not {nside}",
                          nside=nside)
    return int(nside).bit_length() - 1


def flatten(m: MultiOrderMap, nside: int) -> FlatMap:
    """Resample ``m`` to ``nside`` (see the module docstring for how distances are carried).

    Examples
    --------
    >>> flat = flatten(m, 64)                    # doctest: +SKIP
    >>> flat.npix, round(float(flat.prob.sum()), 9)   # doctest: +SKIP
    (49152, 1.0)
    """
    order = nside_to_order(nside)
    npix = 12 * 4**order
    area = np.pi / 3.0 / 4.0**order
    prob = np.zeros(npix)
    coarse = m.level <= order
    fine = ~coarse

    # coarse rows: split into 4**(order - level) children each
    c_rows = np.flatnonzero(coarse)
    counts = np.left_shift(np.int64(1), 2 * (order - m.level[c_rows]))
    first = m.ipix[c_rows] * counts
    offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    children = np.repeat(first, counts) + offsets
    source = np.repeat(c_rows, counts)
    prob[children] = m.probdensity[source] * area

    # fine rows: add into their parent
    f_rows = np.flatnonzero(fine)
    parents = np.right_shift(m.ipix[f_rows], 2 * (m.level[f_rows] - order))
    f_prob = m.prob[f_rows]
    prob += np.bincount(parents, weights=f_prob, minlength=npix)

    if m.distmu is None or m.distsigma is None or m.distnorm is None:  # not m.has_distance
        return FlatMap(nside, prob)

    mu = np.full(npix, np.inf)
    sigma = np.ones(npix)
    norm = np.zeros(npix)
    mu[children] = m.distmu[source]
    sigma[children] = m.distsigma[source]
    norm[children] = m.distnorm[source]
    if f_rows.size:
        mean, std, _ = parameters_to_moments(m.distmu[f_rows], m.distsigma[f_rows])
        ok = np.isfinite(mean) & np.isfinite(std)
        w = np.where(ok, f_prob, 0.0)
        mean0 = np.where(ok, mean, 0.0)
        second0 = np.where(ok, std * std + mean * mean, 0.0)
        wsum = np.bincount(parents, weights=w, minlength=npix)
        m1 = np.bincount(parents, weights=w * mean0, minlength=npix)
        m2 = np.bincount(parents, weights=w * second0, minlength=npix)
        targets = np.unique(parents)
        with np.errstate(divide="ignore", invalid="ignore"):
            tmean = m1[targets] / wsum[targets]
            tstd = np.sqrt(np.maximum(m2[targets] / wsum[targets] - tmean * tmean, 0.0))
        tmu, tsigma, tnorm = moments_to_parameters(tmean, tstd)
        mu[targets], sigma[targets], norm[targets] = tmu, tsigma, tnorm
    return FlatMap(nside, prob, mu, sigma, norm)
