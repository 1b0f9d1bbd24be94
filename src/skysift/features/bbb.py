"""Lasair-LSST's Bazin-blackbody (BBB) fit: every object of a batch fitted at once.

The model (Lasair's ``BBB``, after Williams' "Bazin Exp Blackbody" note) is a product of a time
part and a blackbody in wavelength, with one temperature for all bands:

* Bazin: ``f(t, wl) = A B(wl, T) exp(-kf (t - t0)) / (1 + exp(-kr (t - t0)))``
* Exp (a rise with no peak yet): ``f(t, wl) = A B(wl, T) exp(k t)``

where ``B(wl, T)`` is the blackbody's f_nu shape, ``wl**-3 / (exp(hc / (wl k T)) - 1)``, at
Lasair's band wavelengths (:data:`~skysift.features.lightcurve.PAIR_WAVELENGTH_UM`), and ``t`` is
days since the first diaSource. Both are fitted; of those that pass the checks below the one
with the lower AIC (``n ln(chi2 / n) + 2 p``) is kept. The outputs, as Lasair's:

``BBBRiseRate``
    ``kr`` (Bazin) or ``k`` (Exp), 1/day: the e-folding rate of the flux on the rise. 1/day is
    1.0857 mag/day (2.5 / ln 10), which is why Lasair's docs call it "about magnitudes per day".
``BBBFallRate``
    ``kf``, 1/day (NULL for Exp).
``BBBTemp``
    ``T`` in kiloKelvin.
``BBBPeakMJD``, ``BBBPeakFlux``
    The time of the Bazin maximum, ``t0 + ln(kr / kf - 1) / kr``, and the model's flux then
    (nJy, as psfFlux) in the LSST band where the fitted blackbody is brightest (NULL for Exp).

Checks (Lasair's): at least 5 diaSources; Bazin 0 < kr <= 15, 0 < kf <= 2, kf < kr (a
maximum exists) and a fraction of unexplained variance chi2 / chi2(constant) <= 0.25; Exp
0 < k <= 2, its 1-sigma error below k and the fraction <= 0.35.

Differences from Lasair's code, each a choice for the user: the residuals are weighted by
psfFluxErr (Lasair's are unweighted, so one bright point outweighs ten faint ones); no forced
photometry is prepended (skysift's batch path has the diaSources only); no extinction
correction until an E(B-V) map is configured; it runs for every object with enough points, not
only those Sherlock calls SN, NT or ORPHAN.

The fitter is Levenberg-Marquardt, written for many small problems at once: every iteration
evaluates the residuals and Jacobians of all objects in one numpy pass and solves all the 5x5
(or 3x3) normal equations with one batched ``numpy.linalg.solve``. Parameters are fitted as
logarithms (A, T, kr, kf) so that they stay positive; the blackbody terms are computed once per
object and band, not per point. Each model starts from two guesses (an early and a late t0; for
Exp a line through ln flux); the better fit is kept. A fit still far from passing its checks
after 10 iterations (chi2 above twice the most they accept) is abandoned, which on light curves
that no Bazin describes (most variable stars) saves two thirds of the time.
``tests/features/test_bbb.py`` checks it against scipy.optimize.least_squares fitting one object at
a time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skysift.features.lightcurve import HC_OVER_K_UM_KK, PAIR_WAVELENGTH_UM, blackbody_shape
from skysift.features.photometry import SourceArrays
from skysift.store.columns import BANDS

__all__ = ["BBB_COLUMNS", "MIN_POINTS", "BBBFit", "bazin_flux", "fit_bbb"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

BBB_COLUMNS = ("BBBRiseRate", "BBBFallRate", "BBBTemp", "BBBPeakFlux", "BBBPeakMJD")
MIN_POINTS = 5
MAX_RISE, MAX_FALL, MAX_EXP = 15.0, 2.0, 2.0
MAX_UNEXPLAINED_BAZIN, MAX_UNEXPLAINED_EXP = 0.25, 0.35
_WL = np.array([PAIR_WAVELENGTH_UM[b] for b in BANDS])
_WL_REF = PAIR_WAVELENGTH_UM["r"]
_MAX_ITER = 60
#: After 10 iterations, a fit whose chi2 is still above twice the most its checks accept stops
#: there (it is then refused by the checks, as it would almost surely be).
#: (Giving up earlier, or at a lower chi2, was measured to lose fits of clean Bazin curves.)
_GIVE_UP = {10: 1.0}
_CLIP = 60.0  # exponents are clipped here: e^60 ~ 1e26, far beyond any real light curve


def bazin_flux(t: npt.ArrayLike, wl_um: npt.ArrayLike, a: npt.ArrayLike, t_kk: npt.ArrayLike,
               t0: npt.ArrayLike, kr: npt.ArrayLike, kf: npt.ArrayLike) -> F64:
    """The Bazin-blackbody model, with ``a`` the amplitude in r: ``a B(wl) / B(r) S(t)``."""
    tau = np.asarray(t, dtype=float) - np.asarray(t0)
    shape = blackbody_shape(wl_um, t_kk) / blackbody_shape(_WL_REF, t_kk)
    return np.asarray(np.asarray(a) * shape * np.exp(np.clip(-np.asarray(kf) * tau, -_CLIP, _CLIP))
                      / (1 + np.exp(np.clip(-np.asarray(kr) * tau, -_CLIP, _CLIP))))


@dataclass
class BBBFit:
    """The BBB columns of every group (NaN where there is no acceptable fit)."""

    rise: F64
    fall: F64
    temp: F64
    peak_flux: F64
    peak_mjd: F64
    chi2: F64 | None = None  # chi-square of the chosen fit (sum of squared residuals / error)
    fitted: int = 0       # groups that had enough points to be fitted
    timed_out: int = 0    # groups given up on at the deadline
    warm: int = 0         # groups started from their previous fit
    refit: int = 0        # of those, fitted again from the guesses (a warm model failed)

    def columns(self) -> dict[str, F64]:
        return dict(zip(BBB_COLUMNS, (self.rise, self.fall, self.temp, self.peak_flux,
                                      self.peak_mjd), strict=True))


@dataclass
class _Problem:
    """Rows of the problems being fitted (one problem = one object and one start)."""

    prob: I64      # problem index of each row
    t: F64
    band: I64      # index into BANDS
    f: F64         # flux / scale of the problem
    w: F64         # 1 / error (same scale)
    starts: I64    # first row of each problem (rows are grouped by problem)
    n_prob: int


def _dlnb_dlnt(wl: F64, t_kk: F64) -> F64:
    """d ln B(wl, T) / d ln T."""
    x = np.minimum(HC_OVER_K_UM_KK / (wl * t_kk), 700.0)
    return np.asarray(x / -np.expm1(-x))


def _colour(t_kk: F64, p: _Problem, deriv: bool) -> tuple[F64, F64 | None]:
    """ln(B(wl) / B(r)) and its d / d ln T for each row, computed once per problem and band
    (6 values per problem rather than one per row)."""
    t = t_kk[:, None]
    ln_b = np.log(blackbody_shape(_WL[None, :], t) / blackbody_shape(_WL_REF, t))
    d = None
    if deriv:
        d = (_dlnb_dlnt(_WL[None, :], t) - _dlnb_dlnt(np.array(_WL_REF), t))[p.prob, p.band]
    return ln_b[p.prob, p.band], d


def _bazin(theta: F64, p: _Problem, deriv: bool = True) -> tuple[F64, F64 | None]:
    """Model values and d ln model / d theta (5 x rows) for theta = ln A, ln T, t0, ln kr, ln kf."""
    ln_b, dlnb = _colour(np.exp(theta[:, 1]), p, deriv)
    # per-problem values first, then spread to the rows (exp once per problem, not per row)
    t0, kr, kf = theta[p.prob, 2], np.exp(theta[:, 3])[p.prob], np.exp(theta[:, 4])[p.prob]
    tau = p.t - t0
    ez = np.exp(np.clip(-kr * tau, -_CLIP, _CLIP))
    ln_s = np.clip(-kf * tau, -_CLIP, _CLIP) - np.log1p(ez)
    m = np.exp(np.clip(theta[p.prob, 0] + ln_b + ln_s, -_CLIP, _CLIP))
    if not deriv:
        return m, None
    sig = ez / (1.0 + ez)
    d = np.empty((5, p.t.size))  # one contiguous row per parameter: see _normal
    d[0] = 1.0
    d[1] = dlnb
    d[2] = kf - kr * sig
    d[3] = kr * tau * sig
    d[4] = -kf * tau
    return m, d


def _expo(theta: F64, p: _Problem, deriv: bool = True) -> tuple[F64, F64 | None]:
    """Model values and d ln model / d theta (3 x rows) for theta = ln A, ln T, k."""
    ln_b, dlnb = _colour(np.exp(theta[:, 1]), p, deriv)
    m = np.exp(np.clip(theta[p.prob, 0] + ln_b + theta[p.prob, 2] * p.t, -_CLIP, _CLIP))
    if not deriv:
        return m, None
    d = np.empty((3, p.t.size))
    d[0] = 1.0
    d[1] = dlnb
    d[2] = p.t
    return m, d


def _chi2(model, theta: F64, p: _Problem) -> F64:
    m, _ = model(theta, p, False)
    r = p.w * (p.f - m)
    return np.asarray(np.add.reduceat(r * r, p.starts))


#: Bounds of the fitted parameters (a step is clipped to them): ln A (flux / its largest
#: value), ln T (kK), then t0 (days) and ln kr, ln kf (1/day) for Bazin, or k (1/day) for Exp.
_BOUNDS = {
    5: (np.array([-12.0, np.log(0.3), -300.0, np.log(1e-4), np.log(1e-5)]),
        np.array([12.0, np.log(300.0), 600.0, np.log(100.0), np.log(30.0)])),
    3: (np.array([-30.0, np.log(0.3), -1.0]), np.array([12.0, np.log(300.0), 3.0])),
}


def _levenberg_marquardt(model, theta: F64, p: _Problem, deadline: float,
                         hopeless: F64 | None = None) -> tuple[F64, F64, bool]:
    """Fit every problem; returns theta, chi2 and whether the deadline stopped it."""
    with np.errstate(all="ignore"):
        return _lm(model, theta, p, deadline, hopeless)


def _subset(p: _Problem, keep: npt.NDArray[np.bool_]) -> _Problem:
    """The problems where ``keep`` is true, renumbered 0.. in order."""
    rows = keep[p.prob]
    renumber = np.cumsum(keep) - 1
    prob = renumber[p.prob[rows]]
    starts = np.flatnonzero(np.r_[True, prob[1:] != prob[:-1]]) if prob.size else prob
    return _Problem(prob=prob, t=p.t[rows], band=p.band[rows], f=p.f[rows], w=p.w[rows],
                    starts=starts, n_prob=int(keep.sum()))


def _normal(model, theta: F64, p: _Problem) -> tuple[F64, F64]:
    """J^T J and J^T r of every problem (J = d residual / d theta, r = w (f - model))."""
    m, d = model(theta, p)
    assert d is not None
    n_par = d.shape[0]
    iu, ju = np.triu_indices(n_par)
    # per-row products, one contiguous row each: the upper triangle of J^T J (15 rather than
    # 25 for Bazin) then J^T r, summed per problem by one reduceat (measured 4x faster than
    # the same products laid out rows x products)
    wm = p.w * m
    jac = d * -wm
    prod = np.empty((iu.size + n_par, m.size))
    for k, (i, j) in enumerate(zip(iu.tolist(), ju.tolist(), strict=True)):
        np.multiply(jac[i], jac[j], out=prod[k])
    np.multiply(jac, p.w * p.f - wm, out=prod[iu.size:])
    sums = np.add.reduceat(prod, p.starts, axis=1).T
    jtj = np.empty((sums.shape[0], n_par, n_par))
    jtj[:, iu, ju] = sums[:, :iu.size]
    jtj[:, ju, iu] = sums[:, :iu.size]
    return jtj, sums[:, iu.size:]


def _lm(model, theta: F64, p: _Problem, deadline: float,
        hopeless: F64 | None) -> tuple[F64, F64, bool]:
    n_par = theta.shape[1]
    lo, hi = _BOUNDS[n_par]
    lam = np.full(p.n_prob, 1e-3)
    active = np.ones(p.n_prob, dtype=bool)
    cost = _chi2(model, theta, p)
    eye = np.eye(n_par)
    timed_out = False
    sub = p
    for iteration in range(_MAX_ITER):
        if hopeless is not None and iteration in _GIVE_UP:
            active &= cost <= _GIVE_UP[iteration] * hopeless
        if time.monotonic() > deadline:
            timed_out = True
            break
        idx = np.flatnonzero(active)
        if idx.size < sub.n_prob:  # only the problems still iterating are evaluated
            sub = _subset(p, active)
        th, la = theta[idx], lam[idx]
        jtj, jtr = _normal(model, th, sub)
        sane = np.isfinite(jtj).all(axis=(1, 2)) & np.isfinite(jtr).all(axis=1)
        jtj[~sane], jtr[~sane] = eye, 0.0
        # a parameter at a bound that the gradient pushes outwards is held there (projected LM)
        held = ((th <= lo) & (jtr > 0)) | ((th >= hi) & (jtr < 0))
        if held.any():
            jtr = np.where(held, 0.0, jtr)
            jtj = np.where(held[:, :, None] | held[:, None, :], 0.0, jtj) + held[:, :, None] * eye
        diag = np.einsum("kii->ki", jtj).copy()
        h = jtj + (la[:, None] * diag + 1e-9)[:, :, None] * eye
        trial = np.clip(th - np.linalg.solve(h, jtr[:, :, None])[:, :, 0], lo, hi)
        new_cost = _chi2(model, trial, sub)
        old = cost[idx]
        better = np.isfinite(new_cost) & (new_cost < old) & sane
        theta[idx[better]] = trial[better]
        cost[idx[better]] = new_cost[better]
        lam[idx] = np.where(better, np.maximum(la / 3.0, 1e-7), la * 4.0)
        done = ~sane | (better & (old - new_cost <= 1e-6 * old + 1e-12)) | (lam[idx] > 1e8)
        active[idx[done]] = False
        if not active.any():
            break
    return theta, cost, timed_out


def _covariance(model, theta: F64, p: _Problem) -> F64:
    """The inverse normal matrix at ``theta`` of every problem (NaN where it is not finite)."""
    with np.errstate(all="ignore"):
        jtj, _ = _normal(model, theta, p)
    cov = np.full_like(jtj, np.nan)
    good = np.isfinite(jtj).all(axis=(1, 2))
    if good.any():
        cov[good] = np.linalg.pinv(jtj[good])
    return cov


def _rows(src: SourceArrays, n_groups: int) -> tuple[I64, F64, I64, F64, F64, F64, F64]:
    ok = (np.isfinite(src.flux) & np.isfinite(src.mjd) & (src.band >= 0)
          & np.isfinite(src.flux_err) & (src.flux_err > 0))
    g = src.group[ok]
    # by group, then time (a SourceArrays from .sorted() is in that order already)
    order = np.arange(g.size) if src.ordered else np.lexsort((src.mjd[ok], g))
    g, mjd = g[order], src.mjd[ok][order]
    band, f, err = src.band[ok][order], src.flux[ok][order], src.flux_err[ok][order]
    first = np.full(n_groups, np.inf)
    np.minimum.at(first, g, mjd)
    scale = np.zeros(n_groups)
    np.maximum.at(scale, g, np.abs(f))
    return g, mjd - first[g], band, f / scale[g], err / scale[g], first, scale


def _problems(g: I64, t: F64, band: I64, f: F64, e: F64, owners: I64) -> _Problem:
    """One problem per entry of ``owners`` (a group index; groups may repeat), numbered in that
    order, each with every row of its group (``g`` is sorted, as :func:`_rows` gives it)."""
    n_groups = int(g.max()) + 1 if g.size else 1
    first_row = np.searchsorted(g, np.arange(n_groups))
    count = np.bincount(g, minlength=n_groups)
    c = count[owners]
    starts = np.r_[0, np.cumsum(c)[:-1]].astype(np.int64)
    rows = np.repeat(first_row[owners] - starts, c) + np.arange(int(c.sum()))
    prob = np.repeat(np.arange(owners.size), c)
    return _Problem(prob=prob, t=t[rows], band=band[rows], f=f[rows], w=1.0 / e[rows],
                    starts=starts, n_prob=int(owners.size))


def _amplitude(model, theta: F64, p: _Problem) -> F64:
    """ln A that best fits each problem with its other parameters as given (the model is linear
    in A: A = sum(w^2 f m) / sum(w^2 m^2) at ln A = 0), within its bounds; 0 where that A is
    not positive."""
    trial = theta.copy()
    trial[:, 0] = 0.0
    with np.errstate(all="ignore"):
        m, _ = model(trial, p, False)
        w2 = p.w**2
        a = np.add.reduceat(w2 * p.f * m, p.starts) / np.add.reduceat(w2 * m * m, p.starts)
        ln_a = np.where(np.isfinite(a) & (a > 0), np.log(np.where(a > 0, a, 1.0)), 0.0)
    lo, hi = _BOUNDS[theta.shape[1]]
    return np.asarray(np.clip(ln_a, lo[0], hi[0]))


def _warm_theta(previous: Mapping[str, F64], groups: I64, first: F64
                ) -> tuple[npt.NDArray[np.bool_], F64, npt.NDArray[np.bool_], F64]:
    """Which of ``groups`` have a previous Bazin or Exp fit, and its parameters (ln A to be
    found): Bazin's t0 from its peak, ``BBBPeakMJD - ln(kr / kf - 1) / kr``."""
    rise, fall, temp = (np.asarray(previous[c], dtype=float)[groups]
                        for c in ("BBBRiseRate", "BBBFallRate", "BBBTemp"))
    peak = np.asarray(previous["BBBPeakMJD"], dtype=float)[groups] - first[groups]
    with np.errstate(all="ignore"):
        is_b = (np.isfinite(rise) & np.isfinite(fall) & np.isfinite(temp) & np.isfinite(peak)
                & (fall > 0) & (rise > fall) & (temp > 0))
        is_e = np.isfinite(rise) & ~np.isfinite(fall) & np.isfinite(temp) & (temp > 0) & ~is_b
        kr, kf = np.where(is_b, rise, 1.0), np.where(is_b, fall, 0.5)
        t0 = peak - np.log(kr / kf - 1.0) / kr
        lo, hi = _BOUNDS[5]
        theta_b = np.clip(np.stack([np.zeros(groups.size), np.log(np.where(is_b, temp, 10.0)),
                                    t0, np.log(kr), np.log(kf)], axis=1), lo, hi)
        lo, hi = _BOUNDS[3]
        theta_e = np.clip(np.stack([np.zeros(groups.size), np.log(np.where(is_e, temp, 10.0)),
                                    np.where(is_e, rise, 0.0)], axis=1), lo, hi)
    return is_b & np.isfinite(theta_b).all(axis=1), theta_b, \
        is_e & np.isfinite(theta_e).all(axis=1), theta_e


def _pick(cost: F64, owners: I64, ng: int) -> I64:
    """The problem kept for each of ``ng`` groups: the first one (problems 0..ng-1 are each
    group's first start) unless its second start (at most one more) has a strictly lower chi2."""
    chosen = np.arange(ng)
    extra = np.arange(ng, owners.size)
    if extra.size:
        better = cost[extra] < cost[owners[extra]]
        chosen[owners[extra[better]]] = extra[better]
    return chosen


def fit_bbb(src: SourceArrays, n_groups: int, *, deadline_s: float | None = None,
            previous: Mapping[str, F64] | None = None) -> BBBFit:
    """The BBB columns of every group with at least :data:`MIN_POINTS` usable diaSources.

    ``deadline_s`` bounds the time spent (both models); problems still iterating then keep
    their best parameters so far, and are accepted only if they pass the checks.

    ``previous`` (the BBB columns of each group's previous fit, NaN where there is none) turns
    on the warm start: a group whose previous fit was a Bazin (or an Exp) starts that model once,
    from the previous parameters, instead of from two guesses; a group whose warm-started model
    fails its checks is fitted again from the guesses, both models. The result then depends on the
    previous fit, not only on the light curve (see the ``bbb_warm_start`` setting).
    """
    nan = np.full(n_groups, np.nan)
    out = BBBFit(nan.copy(), nan.copy(), nan.copy(), nan.copy(), nan.copy(), chi2=nan.copy())
    g, t, band, f, e, first, scale = _rows(src, n_groups)
    counts = np.bincount(g, minlength=n_groups)
    groups = np.flatnonzero(counts >= MIN_POINTS)
    out.fitted = int(groups.size)
    if not groups.size:
        return out
    deadline = time.monotonic() + (deadline_s if deadline_s is not None else np.inf)
    rows = (g, t, band, f, e)
    if previous is None:
        _fit(out, rows, first, scale, groups, None, deadline)
        return out
    warm = _warm_theta(previous, groups, first)
    ok_b, ok_e = _fit(out, rows, first, scale, groups, warm, deadline)
    out.warm = int((warm[0] | warm[2]).sum())
    # a warm-started model that fails its checks: the object is fitted again from the guesses,
    # both models, as without a warm start (else a Bazin whose warm start went astray could
    # become an Exp, or nothing)
    again = groups[(warm[0] & ~ok_b) | (warm[2] & ~ok_e)]
    out.refit = int(again.size)
    if again.size:
        for column in (out.rise, out.fall, out.temp, out.peak_flux, out.peak_mjd, out.chi2):
            if column is not None:
                column[again] = np.nan
        _fit(out, rows, first, scale, again, None, deadline)
    return out


def _fit(out: BBBFit, rows: tuple[I64, F64, I64, F64, F64], first: F64, scale: F64,
         groups: I64, warm: tuple[npt.NDArray[np.bool_], F64, npt.NDArray[np.bool_], F64] | None,
         deadline: float) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Fit ``groups`` into ``out``; returns which of them passed the checks of Bazin and of
    Exp (whichever was kept)."""
    ng = groups.size
    p1 = _problems(*rows, groups)
    n = np.add.reduceat(np.ones(p1.prob.size), p1.starts)

    # chi2 of the best constant (weighted mean): the "total" the fits must explain
    w2 = p1.w**2
    mean = np.add.reduceat(w2 * p1.f, p1.starts) / np.add.reduceat(w2, p1.starts)
    total = np.add.reduceat(w2 * (p1.f - mean[p1.prob]) ** 2, p1.starts)

    # starting points from the data: the brightest point, 10 kK; t0 a week before it or at it
    t_peak = np.zeros(ng)
    best = np.full(ng, -np.inf)
    np.maximum.at(best, p1.prob, p1.f)
    is_peak = p1.f == best[p1.prob]
    t_peak[p1.prob[is_peak]] = p1.t[is_peak]
    # the exp starts: a straight line through ln(flux) of the positive points, and one steeper
    pos = (p1.f > 0).astype(float)
    y = np.log(np.where(p1.f > 0, p1.f, 1.0))
    s0, st, sy = (np.add.reduceat(v, p1.starts) for v in (pos, pos * p1.t, pos * y))
    stt, sty = np.add.reduceat(pos * p1.t**2, p1.starts), np.add.reduceat(pos * p1.t * y, p1.starts)
    with np.errstate(all="ignore"):
        slope = np.nan_to_num((s0 * sty - st * sy) / (s0 * stt - st**2))
        icept = np.nan_to_num((sy - slope * st) / s0)

    def guesses(k: I64, early: bool) -> tuple[F64, F64]:
        """The Bazin and Exp starts of positions ``k`` (the early or the late guess)."""
        m = k.size
        tb = np.stack([np.zeros(m), np.full(m, np.log(10.0)),
                       t_peak[k] - (7.0 if early else 2.0),
                       np.full(m, np.log(0.3 if early else 1.0)),
                       np.full(m, np.log(0.05 if early else 0.1))], axis=1)
        te = np.stack([np.clip(icept[k], -29.0, 11.0), np.full(m, np.log(10.0)),
                       np.clip(slope[k] + (0.0 if early else 0.2), -0.9, 2.9)], axis=1)
        return tb, te

    every = np.arange(ng)
    tb0, te0 = guesses(every, True)
    results = []
    two_cold: _Problem | None = None  # every group twice: both models' problems without warm
    for model, n_par, hopeless in ((_bazin, 5, MAX_UNEXPLAINED_BAZIN),
                                   (_expo, 3, MAX_UNEXPLAINED_EXP)):
        theta0 = tb0 if n_par == 5 else te0
        is_warm = np.zeros(ng, dtype=bool)
        if warm is not None:
            is_warm = warm[0] if n_par == 5 else warm[2]
            theta0 = np.where(is_warm[:, None], warm[1] if n_par == 5 else warm[3], theta0)
        cold = np.flatnonzero(~is_warm)
        second = guesses(cold, False)[0 if n_par == 5 else 1]
        owners = np.concatenate([every, cold])
        if is_warm.any():
            p = _problems(*rows, groups[owners])
        else:  # built once for both models (the path without a warm start)
            two_cold = two_cold or _problems(*rows, groups[owners])
            p = two_cold
        theta = np.concatenate([theta0, second])
        if is_warm.any():  # the amplitude that best fits the previous shape, from the new data
            sub = np.zeros(owners.size, dtype=bool)
            sub[:ng] = is_warm
            theta[sub, 0] = _amplitude(model, theta[sub], _subset(p, sub))
        theta, cost, late = _levenberg_marquardt(model, theta, p, deadline,
                                                 2.0 * hopeless * total[owners])
        chosen = _pick(cost, owners, ng)
        results.append((theta[chosen], cost[chosen], chosen, p, late))
    (tb, cb, _, _, late_b), (te, ce, chosen_e, p_e, late_e) = results
    out.timed_out = max(out.timed_out, ng if (late_b or late_e) else 0)

    with np.errstate(all="ignore"):
        kr, kf, k = np.exp(tb[:, 3]), np.exp(tb[:, 4]), te[:, 2]
        ok_b = (np.isfinite(cb) & (kr <= MAX_RISE) & (kf <= MAX_FALL) & (kf < kr)
                & (cb <= MAX_UNEXPLAINED_BAZIN * total))
        red_chi2 = np.maximum(ce / np.maximum(n - 3, 1), 1.0)
        # the error of k is needed only where every other check of Exp passes
        k_err = np.full(ng, np.nan)
        maybe = np.isfinite(ce) & (k > 0) & (k <= MAX_EXP) & (ce <= MAX_UNEXPLAINED_EXP * total)
        if maybe.any():
            keep = np.zeros(p_e.n_prob, dtype=bool)
            keep[chosen_e[maybe]] = True
            # _subset keeps problems in index order: sort the candidates the same way
            order = np.argsort(chosen_e[maybe])
            cov = _covariance(_expo, te[maybe][order], _subset(p_e, keep))
            k_err[np.flatnonzero(maybe)[order]] = np.sqrt(np.abs(cov[:, 2, 2])
                                                          * red_chi2[maybe][order])
        ok_e = (np.isfinite(ce) & (k > 0) & (k <= MAX_EXP) & (k_err < k)
                & (ce <= MAX_UNEXPLAINED_EXP * total))
        aic_b = n * np.log(cb / n) + 2 * 5
        aic_e = n * np.log(ce / n) + 2 * 3
    use_b = ok_b & (~ok_e | (aic_b <= aic_e))
    use_e = ok_e & ~use_b

    gb, ge = groups[use_b], groups[use_e]
    tb, te = tb[use_b], te[use_e]
    t_kk_b = np.exp(tb[:, 1])
    out.rise[gb], out.fall[gb], out.temp[gb] = np.exp(tb[:, 3]), np.exp(tb[:, 4]), t_kk_b
    peak_t = tb[:, 2] + np.log(np.exp(tb[:, 3]) / np.exp(tb[:, 4]) - 1.0) / np.exp(tb[:, 3])
    out.peak_mjd[gb] = first[gb] + peak_t
    brightest = _WL[np.argmax(blackbody_shape(_WL[None, :], t_kk_b[:, None]), axis=1)]
    peak = bazin_flux(peak_t, brightest, np.exp(tb[:, 0]), t_kk_b, tb[:, 2], np.exp(tb[:, 3]),
                      np.exp(tb[:, 4]))
    out.peak_flux[gb] = peak * scale[gb]
    out.rise[ge], out.temp[ge] = te[:, 2], np.exp(te[:, 1])
    assert out.chi2 is not None
    out.chi2[gb], out.chi2[ge] = cb[use_b], ce[use_e]  # scale-free: f and err share a scale
    return ok_b, ok_e
