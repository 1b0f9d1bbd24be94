"""The distance ansatz of LVK sky maps, in closed form (no scipy, no ligo.skymap).

Along a line of sight the posterior distance density is
``p(r) = DISTNORM * r**2 * N(r; DISTMU, DISTSIGMA)`` for ``r >= 0``. With ``a = mu / sigma``,
``I_k(a) = ∫_0^∞ x**k φ(x - a) dx`` has a closed form in the normal pdf ``φ`` and cdf ``Φ``, which
gives the conditional mean ``sigma I_3/I_2``, the second moment ``sigma² I_4/I_2`` and the
normalisation ``1 / (sigma² I_2)``. :func:`moments_to_parameters` inverts that, which is what
resampling needs: a coarse pixel's distance distribution is the probability-weighted mixture of its
children, and the mixture's mean and standard deviation are turned back into ansatz parameters.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["moments_to_parameters", "normal_cdf", "parameters_to_moments"]

_erfc = np.frompyfunc(math.erfc, 1, 1)
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def normal_cdf(x: np.ndarray | float) -> np.ndarray:
    """Standard normal cumulative distribution, accurate in both tails."""
    arr = np.asarray(x, dtype=float)
    return 0.5 * np.asarray(_erfc(-arr / _SQRT2), dtype=float)


def _integrals(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cdf = normal_cdf(a)
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * a * a)
    a2 = a * a
    i2 = (a2 + 1.0) * cdf + a * pdf
    i3 = (a2 * a + 3.0 * a) * cdf + (a2 + 2.0) * pdf
    i4 = (a2 * a2 + 6.0 * a2 + 3.0) * cdf + (a2 * a + 5.0 * a) * pdf
    return i2, i3, i4


def parameters_to_moments(distmu: np.ndarray, distsigma: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conditional distance mean, standard deviation and DISTNORM from DISTMU, DISTSIGMA.

    Non-finite parameters (``DISTMU = inf`` marks "no distance information") give
    ``(inf, 1, 0)`` as ``ligo.skymap`` does.

    Examples
    --------
    >>> mean, std, norm = parameters_to_moments(np.array([100.0]), np.array([10.0]))
    >>> round(float(mean[0]), 3), round(float(std[0]), 3)
    (101.98, 9.902)
    """
    mu = np.atleast_1d(np.asarray(distmu, dtype=float))
    sigma = np.atleast_1d(np.asarray(distsigma, dtype=float))
    good = np.isfinite(mu) & np.isfinite(sigma) & (sigma > 0)
    mean = np.full(mu.shape, np.inf)
    std = np.ones(mu.shape)
    norm = np.zeros(mu.shape)
    if good.any():
        s = sigma[good]
        a = mu[good] / s
        i2, i3, i4 = _integrals(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            m1 = s * i3 / i2
            m2 = s * s * i4 / i2
            sd = np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
            nrm = 1.0 / (s * s * i2)
        ok = np.isfinite(m1) & np.isfinite(sd) & np.isfinite(nrm)
        idx = np.flatnonzero(good)
        mean[idx[ok]], std[idx[ok]], norm[idx[ok]] = m1[ok], sd[ok], nrm[ok]
    return mean, std, norm


@lru_cache(maxsize=1)
def _ratio_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """std/mean and mean/sigma as functions of a = mu/sigma, tabulated (a decreasing ratio)."""
    a = np.concatenate([np.linspace(-10.0, 10.0, 20001), np.geomspace(10.0, 1e5, 20001)[1:]])
    i2, i3, i4 = _integrals(a)
    m1 = i3 / i2
    sd = np.sqrt(np.maximum(i4 / i2 - m1 * m1, 0.0))
    ratio = sd / m1
    return a, ratio, m1


def moments_to_parameters(mean: np.ndarray, std: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DISTMU, DISTSIGMA, DISTNORM whose conditional mean and std are ``mean`` and ``std``.

    The ratio ``std / mean`` fixes ``a = mu / sigma`` (found by interpolation in a dense table);
    ratios above the table (a < -10, std/mean > 0.567, near the 1/sqrt(3) limit) are clamped to
    a = -10. Non-finite or non-positive moments give ``(inf, 1, 0)``.
    """
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    std = np.atleast_1d(np.asarray(std, dtype=float))
    mu = np.full(mean.shape, np.inf)
    sigma = np.ones(mean.shape)
    norm = np.zeros(mean.shape)
    good = np.isfinite(mean) & np.isfinite(std) & (mean > 0) & (std > 0)
    if not good.any():
        return mu, sigma, norm
    a_tab, ratio_tab, _m1_tab = _ratio_table()
    ratio = std[good] / mean[good]
    # ratio_tab decreases with a: interpolate on the reversed (increasing) table
    a = np.interp(ratio, ratio_tab[::-1], a_tab[::-1])
    tiny = ratio < ratio_tab[-1]
    a[tiny] = 1.0 / ratio[tiny]  # far tail: the ansatz is a plain normal, std/mean -> 1/a
    i2, i3, _ = _integrals(a)
    s = mean[good] * i2 / i3
    mu[good] = a * s
    sigma[good] = s
    norm[good] = 1.0 / (s * s * i2)
    return mu, sigma, norm
