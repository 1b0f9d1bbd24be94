"""The BBB fit and the other light-curve features: cost per object and accuracy, three fitters.

On the same synthetic Bazin-blackbody light curves (known rise, fall and temperature; 6 bands;
noise 3% of the amplitude), measured in one run:

1. skysift's fitter (:func:`skysift.features.bbb.fit_bbb`): every object at once, Bazin and Exp,
   two starts each;
2. scipy.optimize.least_squares, one object at a time, Bazin only, one start (the usual way);
3. the light-curve package's RainbowFit (Bazin in time, constant-temperature blackbody), one
   object at a time, when light-curve is installed.

Prints ms per object and the median and 90th-percentile relative errors of kr, kf and T, and the
cost of the other light-curve features (jumps, pairs, nights) per object.

    python benchmarks/bench_features.py [--objects 400] [--points 40]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from skysift.features.bbb import bazin_flux, fit_bbb
from skysift.features.lightcurve import PAIR_WAVELENGTH_UM, lightcurve_features
from skysift.features.photometry import SourceArrays
from skysift.store.columns import BANDS

WL = np.array([PAIR_WAVELENGTH_UM[b] for b in BANDS])


def make_curves(n_objects: int, n_points: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    curves, truth = [], []
    for _ in range(n_objects):
        a, t_kk, t0 = rng.uniform(2000, 20000), rng.uniform(5, 20), rng.uniform(5, 15)
        kr, kf = rng.uniform(0.2, 1.0), rng.uniform(0.02, 0.1)
        t = np.sort(rng.uniform(0, 60, n_points))
        band = rng.integers(0, 6, n_points)
        err = np.full(n_points, 0.03 * a)
        flux = bazin_flux(t, WL[band], a, t_kk, t0, kr, kf) + rng.normal(0, err)
        curves.append((t, band, flux, err))
        truth.append((kr, kf, t_kk))
    return curves, np.array(truth)


def as_arrays(curves) -> SourceArrays:
    rows, groups = [], []
    for k, (t, band, flux, err) in enumerate(curves):
        for i in range(t.size):
            rows.append((k * 100_000 + i, 60000.0 + t[i], BANDS[band[i]], flux[i], err[i], 0.9,
                         10.0, 10.0))
            groups.append(k)
    return SourceArrays.from_rows(rows, groups)


def scipy_fit(curves):
    from scipy.optimize import least_squares

    out = []
    for t, band, flux, err in curves:
        wl, s = WL[band], np.max(np.abs(flux))

        def resid(p, t=t, wl=wl, flux=flux, err=err, s=s):
            return (flux / s - bazin_flux(t, wl, p[0], p[1], p[2], p[3], p[4])) / (err / s)

        t_peak = t[np.argmax(flux)]
        r = least_squares(resid, [1.0, 10.0, t_peak - 7, 0.3, 0.05],
                          bounds=([1e-6, 0.3, -300, 1e-4, 1e-5], [1e6, 300, 600, 100, 30]))
        out.append((r.x[3], r.x[4], r.x[1]) if r.success else (np.nan,) * 3)
    return np.array(out)


def rainbow_fit(curves):
    import light_curve

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        feature = light_curve.RainbowFit.from_angstrom(
            {b: PAIR_WAVELENGTH_UM[b] * 1e4 for b in BANDS}, with_baseline=False,
            temperature="constant", bolometric="bazin")
        out = []
        for t, band, flux, err in curves:
            try:
                got = feature(t, flux, err, np.array(BANDS)[band])
                # newer releases append the fit's reduced chi2 after the named values
                v = dict(zip(feature.names, got[:len(feature.names)], strict=True))
                out.append((1 / v["rise_time"], 1 / v["fall_time"], v["T"] / 1000))
            except Exception:  # a fit that fails is counted as such
                out.append((np.nan,) * 3)
    return np.array(out)


def report(name: str, seconds: float, n: int, got, truth, base_ms: float | None) -> float:
    ms = seconds / n * 1000
    ok = np.isfinite(got).all(axis=1)
    rel = np.abs(got[ok] / truth[ok] - 1)
    ratio = f"  ({ms / base_ms:.1f}x skysift's time)" if base_ms else ""
    print(f"{name:<34} {ms:7.2f} ms/object{ratio}; fitted {ok.sum()}/{n}; "
          + "; ".join(f"{p} median {np.median(rel[:, i]):.3f} p90 {np.quantile(rel[:, i], 0.9):.3f}"
                      for i, p in enumerate(("kr", "kf", "T"))))
    return ms


def cold_and_warm(arrays, n: int, previous):
    """The fit from the guesses and the warm-started one, one after the other, and their times."""
    t0 = time.perf_counter()
    cold = fit_bbb(arrays, n)
    t1 = time.perf_counter()
    warm = fit_bbb(arrays, n, previous=previous)
    return cold, warm, t1 - t0, time.perf_counter() - t1


def warm_start(curves, n: int, repeats: int = 5) -> None:
    """The warm start (setting bbb_warm_start): each curve fitted without its last point, then
    with it from that fit or from the guesses, interleaved; time, and how far the two differ."""
    short = as_arrays([(t[:-1], b[:-1], f[:-1], e[:-1]) for t, b, f, e in curves])
    previous = fit_bbb(short, n).columns()
    arrays = as_arrays(curves)
    cold_s = warm_s = 0.0
    for _ in range(repeats):
        cold, warm, dt_cold, dt_warm = cold_and_warm(arrays, n, previous)
        cold_s, warm_s = cold_s + dt_cold, warm_s + dt_warm
    assert cold.chi2 is not None and warm.chi2 is not None
    both = np.isfinite(cold.chi2) & np.isfinite(warm.chi2)
    dchi2 = np.abs(warm.chi2[both] / cold.chi2[both] - 1)
    with np.errstate(all="ignore"):
        moved = {k: int(np.nansum(np.abs(warm.columns()[k] / v - 1) > 0.01))
                 for k, v in cold.columns().items()}
    print(f"warm start ({warm.warm} of {n} from their fit without the last point): "
          f"{warm_s / repeats / n * 1000:.2f} ms/object = {cold_s / warm_s:.2f}x faster than from "
          f"the guesses ({cold_s / repeats / n * 1000:.2f}); fitted {both.sum()} by both, chi2 "
          f"agrees to {np.max(dchi2, initial=0):.1e} at most; columns more than 1% apart: "
          + ", ".join(f"{k} {v}" for k, v in moved.items()))


def warm_chain(n: int = 60, first: int = 5, last: int = 30) -> None:
    """The warm start over a whole light curve's life: each curve grows one point at a time,
    every fit warm-started from the previous warm fit, beside a fit from the guesses each time;
    counts the fits that change kind (Bazin, Exp, none) and rise rates more than 1% apart."""
    curves, _ = make_curves(n, last, seed=4)
    previous = None
    cold_s = warm_s = 0.0
    kind_changed = moved = fits = 0

    def kind(fit) -> np.ndarray:
        return np.where(np.isfinite(fit.fall), 2, np.where(np.isfinite(fit.rise), 1, 0))

    for m in range(first, last + 1):
        arrays = as_arrays([(t[:m], b[:m], f[:m], e[:m]) for t, b, f, e in curves])
        cold, warm, dt_cold, dt_warm = cold_and_warm(arrays, n, previous)
        cold_s, warm_s = cold_s + dt_cold, warm_s + dt_warm
        previous = warm.columns()
        kind_changed += int((kind(cold) != kind(warm)).sum())
        fits += int((kind(cold) > 0).sum())
        with np.errstate(all="ignore"):
            moved += int(np.nansum(np.abs(warm.rise / cold.rise - 1) > 0.01))
    print(f"warm start over the life of {n} curves ({first} to {last} points, {fits} fits from "
          f"the guesses): {cold_s / warm_s:.2f}x faster; {kind_changed} fits of another kind "
          f"(Bazin, Exp or none) than from the guesses, {moved} rise rates more than 1% apart")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=400)
    ap.add_argument("--points", type=int, default=40)
    args = ap.parse_args()
    curves, truth = make_curves(args.objects, args.points)
    arrays = as_arrays(curves)
    n = args.objects
    print(f"{n} synthetic Bazin-blackbody light curves, {args.points} points in 6 bands, "
          "noise 3% of the amplitude; relative errors against the true kr, kf, T")

    t0 = time.perf_counter()
    fit = fit_bbb(arrays, n)
    mine = np.stack([fit.rise, fit.fall, fit.temp], axis=1)
    base = report("skysift fit_bbb (all at once)", time.perf_counter() - t0, n, mine, truth, None)

    t0 = time.perf_counter()
    ref = scipy_fit(curves)
    report("scipy least_squares (per object)", time.perf_counter() - t0, n, ref, truth, base)
    both = np.isfinite(ref).all(axis=1) & np.isfinite(mine).all(axis=1)
    agree = np.abs(mine[both] / ref[both] - 1)
    print(f"  skysift vs scipy on the {both.sum()} fitted by both: kr, kf, T agree to median "
          + ", ".join(f"{np.median(agree[:, i]):.1e}" for i in range(3)))
    try:
        import light_curve  # noqa: F401
    except ImportError:
        print("light-curve not installed: RainbowFit not measured (pip install light-curve)")
    else:
        k = min(n, 100)
        t0 = time.perf_counter()
        rb = rainbow_fit(curves[:k])
        report("light-curve RainbowFit (per object)", time.perf_counter() - t0, k, rb,
               truth[:k], base)

    warm_start(curves, n)
    warm_chain()

    t0 = time.perf_counter()
    for _ in range(5):
        lightcurve_features(arrays, n)
    ms = (time.perf_counter() - t0) / 5 / n * 1000
    print(f"jumps, pairs, nights, good sources: {ms:.3f} ms/object ({ms / base:.2f}x the BBB fit)")


if __name__ == "__main__":
    main()
