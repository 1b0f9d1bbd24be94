"""The documented catalogue of the filterable columns of ``objects``.

Names are Lasair's LSST names (``common/schema/11_1``), spelled as Lasair and Rubin spell them.
Two groups:

- *computed* columns: worked out by :mod:`skysift.features` from every diaSource stored for the
  object (not only the alert's history window), at each new alert;
- *diaObject* columns: copied as sent from the newest diaObject record (Lasair's ``objects_ext``
  set), names as in the Rubin schema ``lsst.v11_1.diaObject``.

Where a Lasair core name is also a diaObject field (``{band}_psfFluxMean``,
``{band}_psfFluxMeanErr``, ``firstDiaSourceMjdTai``, ``lastDiaSourceMjdTai``, ``nDiaSources``), the
computed value wins; the record as sent is still in the (non-filterable) ``diaObject`` JSON column.

Run ``python -m skysift.store.columns --markdown`` to print the table for docs/filters.md, or
``--write docs/filters.md`` to replace the block between the ``columns`` markers in place.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from skysift import docblock

__all__ = [
    "BANDS",
    "BEGIN_MARKER",
    "BOOKKEEPING_COLUMNS",
    "COLUMNS",
    "COMPUTED_COLUMNS",
    "DIAOBJECT_COLUMNS",
    "END_MARKER",
    "ColumnDoc",
    "filter_catalogue",
    "main",
    "markdown_table",
    "replace_block",
]

BANDS: tuple[str, ...] = ("u", "g", "r", "i", "z", "y")
BEGIN_MARKER = "<!-- columns:begin -->"
END_MARKER = "<!-- columns:end -->"

#: Columns of ``objects`` that are not for filters: bookkeeping and the JSON record.
BOOKKEEPING_COLUMNS: tuple[str, ...] = ("diaObjectSourceId", "diaObject", "updated")


@dataclass(frozen=True)
class ColumnDoc:
    """One filterable column of ``objects``.

    Attributes
    ----------
    name
        The column name, exactly as in SQL (case-sensitive; quote it in PostgreSQL).
    type
        ``"int"``, ``"float"`` or ``"text"``.
    unit
        Physical unit, or ``""``.
    meaning
        One sentence for the documentation.
    origin
        ``"computed"`` (by skysift from the stored sources) or ``"diaObject"`` (copied as sent).
    """

    name: str
    type: Literal["int", "float", "text"]
    unit: str
    meaning: str
    origin: Literal["computed", "diaObject"] = "computed"


def _computed() -> tuple[ColumnDoc, ...]:
    mjd = "MJD (TAI)"
    cols = [
        ColumnDoc("diaObjectId", "int", "", "Rubin's identifier of the object (64-bit)."),
        ColumnDoc("ra", "float", "deg", "Right ascension of the object (the diaObject's; else the "
                  "latest diaSource's)."),
        ColumnDoc("decl", "float", "deg", "Declination of the object (Rubin's `dec`, renamed as "
                  "Lasair does)."),
        ColumnDoc("firstDiaSourceMjdTai", "float", mjd, "Time of the first stored diaSource."),
        ColumnDoc("lastDiaSourceMjdTai", "float", mjd, "Time of the latest stored diaSource."),
        ColumnDoc("latest_psfFlux", "float", "nJy", "Difference-image PSF flux of the latest "
                  "diaSource, any band."),
        ColumnDoc("nDiaSources", "int", "", "Number of stored diaSources (detections)."),
        ColumnDoc("nPosDiaSources", "int", "", "Number of stored diaSources with psfFlux > 0."),
    ]
    for b in BANDS:
        cols.append(ColumnDoc(f"n{b}Sources", "int", "", f"Number of stored {b}-band diaSources."))
    for b in BANDS:
        cols += [
            ColumnDoc(f"{b}_psfFlux", "float", "nJy", f"psfFlux of the latest {b}-band diaSource."),
            ColumnDoc(f"{b}_latestMJD", "float", mjd, f"Time of the latest {b}-band diaSource."),
            ColumnDoc(f"{b}_psfFluxMean", "float", "nJy", f"Inverse-variance weighted mean of the "
                      f"{b}-band psfFlux over stored diaSources (as Rubin computes it)."),
            ColumnDoc(f"{b}_psfFluxMeanErr", "float", "nJy", f"Standard error of "
                      f"{b}_psfFluxMean: 1/sqrt(sum of 1/psfFluxErr^2)."),
        ]
    cols += [
        ColumnDoc("latestR", "float", "", "Reliability (0-1, Rubin's ML score) of the latest "
                  "diaSource."),
        ColumnDoc("medianR", "float", "", "Median reliability over the stored diaSources that "
                  "have one."),
        ColumnDoc("glat", "float", "deg", "Galactic latitude of (ra, decl)."),
        ColumnDoc("healpix", "int", "", "Nested HEALPix index of (ra, decl) at order 14 "
                  "(nside 16384, pixels about 12.9 arcsec)."),
        ColumnDoc("htm16", "int", "", "Hierarchical Triangular Mesh id of (ra, decl) at level 16 "
                  "(Lasair's spatial index; trixels about 4.6 arcsec on a side)."),
        ColumnDoc("nPosDiaSourcesNights", "int", "", "Number of nights with a diaSource of "
                  "psfFlux > 0 (a night is Rubin's dayObs: floor(MJD - 0.5))."),
        ColumnDoc("nSourcesGood", "int", "", "Number of stored diaSources with reliability > 0.5."),
        ColumnDoc("jump1", "float", "sigma", "Lasair's jump detector: the largest |flux - mean| / "
                  "sd of a detection in the last 10 days, against the same band's detections 10 "
                  "to 70 days before the latest (at least 5 of them); NULL when no band has "
                  "enough."),
        ColumnDoc("jump2", "float", "sigma", "As jump1, the largest jump in another band; NULL "
                  "when fewer than two bands have enough."),
    ]
    for which, word in (("latest", "most recent"), ("penultimate", "second most recent")):
        cols += [
            ColumnDoc(f"{which}PairMJD", "float", mjd, f"Time of the later detection of the "
                      f"{word} pair: two detections consecutive in time, in different bands, "
                      "under 33 minutes apart, both with psfFlux > 0."),
            ColumnDoc(f"{which}PairColourMag", "float", "mag", f"Colour of the {word} pair, AB: "
                      "-2.5 log10(flux in the bluer band / flux in the redder band)."),
            ColumnDoc(f"{which}PairColourBands", "text", "", f"Bands of the {word} pair, bluer "
                      "first, e.g. `g-r`."),
            ColumnDoc(f"{which}PairColourTemp", "float", "kK", f"Blackbody temperature with the "
                      f"{word} pair's flux ratio (f_nu at Lasair's band wavelengths); NULL "
                      "outside 0.1-1000 kK. Not extinction corrected."),
        ]
    cols += [
        ColumnDoc("BBBRiseRate", "float", "1/day", "Rise rate of Lasair's Bazin-blackbody fit "
                  "(a Bazin or exponential curve in time times one blackbody over the bands, "
                  "fitted to all diaSources when there are at least 5): k in flux ~ e^(k t), the "
                  "e-folding rate of the flux, as Lasair stores it. 1/day is 1.0857 mag/day, so "
                  "Lasair's docs read it as about magnitudes per day. NULL when no fit passes "
                  "Lasair's checks."),
        ColumnDoc("BBBFallRate", "float", "1/day", "Fall rate of the Bazin fit, the e-folding rate "
                  "of the decline; NULL when the exponential-rise fit was chosen (no peak yet)."),
        ColumnDoc("BBBTemp", "float", "kK", "Blackbody temperature of the fit (one for all bands, "
                  "all epochs). Not extinction corrected."),
        ColumnDoc("BBBPeakFlux", "float", "nJy", "The Bazin fit's flux at its peak, in the LSST "
                  "band where the fitted blackbody is brightest; NULL for the exponential fit."),
        ColumnDoc("BBBPeakMJD", "float", mjd, "Time of the Bazin fit's peak, t0 + ln(kr / kf - 1) "
                  "/ kr; NULL for the exponential fit."),
        ColumnDoc("BBBPeakAbsMag", "float", "mag", "Peak absolute magnitude of the Bazin fit: "
                  "needs a host distance, which skysift does not have (Lasair's comes from "
                  "Sherlock): NULL."),
        ColumnDoc("absMag", "float", "mag", "Peak absolute magnitude: needs a host distance "
                  "(Sherlock in Lasair): NULL."),
        ColumnDoc("absMagMJD", "float", mjd, "Time of absMag: NULL, as absMag."),
        ColumnDoc("ebv", "float", "mag", "Galactic reddening E(B-V) of Schlegel, Finkbeiner & "
                  "Davis (1998) at (ra, decl), as Lasair's (not rescaled by 0.86). From the SFD "
                  "map the operator points `sfd_dust_map` at; NULL without one."),
        ColumnDoc("tns_name", "text", "", "Name (without prefix, e.g. `2025abc`) of the nearest "
                  "object of the Transient Name Server within `tns_radius_arcsec` (1.5 arcsec), "
                  "from the TNS catalogue the operator loads with `skysift tns load FILE` "
                  "(docs/context.md); set on every new batch and on every stored object at each "
                  "load. NULL when there is none, or no catalogue was loaded."),
    ]
    return tuple(cols)


def _from_dia_object() -> tuple[ColumnDoc, ...]:
    def d(name: str, type_: Literal["int", "float"], unit: str, meaning: str) -> ColumnDoc:
        return ColumnDoc(name, type_, unit, meaning + " (diaObject, as sent).", "diaObject")

    cols = [
        d("validityStartMjdTai", "float", "MJD (TAI)", "When this diaObject version became valid"),
        d("raErr", "float", "deg", "Uncertainty of ra (RA*cos(Dec))"),
        d("decErr", "float", "deg", "Uncertainty of decl"),
        d("ra_dec_Cov", "float", "deg^2", "Covariance of RA*cos(Dec) and Dec"),
    ]
    for b in BANDS:
        cols += [
            d(f"{b}_psfFluxSigma", "float", "nJy", f"Standard deviation of the {b}-band psfFlux"),
            d(f"{b}_psfFluxNdata", "int", "", f"Number of {b}-band data points"),
            d(f"{b}_fpFluxMean", "float", "nJy", f"Weighted mean {b}-band forced photometry flux"),
            d(f"{b}_fpFluxMeanErr", "float", "nJy", f"Standard error of {b}_fpFluxMean"),
            d(f"{b}_scienceFluxMean", "float", "nJy", f"Weighted mean {b}-band science-image "
              "(direct) forced flux"),
            d(f"{b}_scienceFluxMeanErr", "float", "nJy", f"Standard error of {b}_scienceFluxMean"),
            d(f"{b}_psfFluxMin", "float", "nJy", f"Minimum {b}-band psfFlux"),
            d(f"{b}_psfFluxMax", "float", "nJy", f"Maximum {b}-band psfFlux"),
            d(f"{b}_psfFluxMaxSlope", "float", "nJy/d", f"Maximum slope between {b}-band "
              "observations, max(delta flux / delta time)"),
            d(f"{b}_psfFluxErrMean", "float", "nJy", f"Mean of the {b}-band psfFlux errors"),
        ]
    return tuple(cols)


COMPUTED_COLUMNS: tuple[ColumnDoc, ...] = _computed()
DIAOBJECT_COLUMNS: tuple[ColumnDoc, ...] = _from_dia_object()
#: Every filterable column of ``objects``, in table order.
COLUMNS: tuple[ColumnDoc, ...] = COMPUTED_COLUMNS + DIAOBJECT_COLUMNS


def filter_catalogue() -> dict[str, dict[str, str]]:
    """The tables and columns user filters may read, with their types.

    Returns
    -------
    dict
        ``{"objects": {column: "int" | "float" | "text"}}``; bookkeeping and JSON columns are
        left out.

    Examples
    --------
    >>> filter_catalogue()["objects"]["nDiaSources"]
    'int'
    >>> "diaObject" in filter_catalogue()["objects"]
    False
    """
    return {"objects": {c.name: c.type for c in COLUMNS}}


def markdown_table() -> str:
    """The column table for docs/filters.md (without the markers), ending in a newline."""
    lines = [
        ("Generated by `python -m skysift.store.columns --write docs/filters.md`; do not edit by "
        "hand."),
        "",
        ("- *skysift* columns are recomputed at every alert from **all** diaSources stored for the "
        "object (not only the alert's 12-month history). They depend on that light curve alone, "
        "not on the order alerts arrived in, so a backtest, a replay or a second worker gives "
        "the same values; the one exception is opt-in: with `bbb_warm_start = true` the `BBB*` "
        "columns start from the object's previous fit and can differ where the data barely "
        "constrain them (see [architecture.md](architecture.md) for how often). "
        "Per-band means are inverse-variance "
        "weighted (weights 1/psfFluxErr², sources with a finite flux and a positive finite error), "
        "with standard error 1/sqrt(Σ weights), as Rubin computes its diaObject means."),
        ("- Where a Lasair name is also a diaObject field (`{band}_psfFluxMean`, "
        "`{band}_psfFluxMeanErr`, `firstDiaSourceMjdTai`, `lastDiaSourceMjdTai`, `nDiaSources`), "
        "the skysift value is in the column; the record as sent is kept for the full output."),
        ("- *diaObject* columns are copied from the newest diaObject record (Lasair's "
        "`objects_ext` set, Rubin schema lsst.v11_1); older alert schemas leave missing ones "
        "NULL."),
        "- Names are case-sensitive: on PostgreSQL write them in double quotes in raw SQL.",
        "",
        "| Column | Type | Unit | Meaning | From |",
        "|---|---|---|---|---|",
    ]
    for c in COLUMNS:
        origin = "skysift" if c.origin == "computed" else "diaObject"
        lines.append(f"| `{c.name}` | {c.type} | {c.unit} | {c.meaning} | {origin} |")
    return "\n".join(lines) + "\n"


def replace_block(text: str, table: str) -> str:
    """Put ``table`` between the column markers of ``text``
    (:func:`skysift.docblock.replace_block`)."""
    return docblock.replace_block(text, table, BEGIN_MARKER, END_MARKER)


def main(argv: list[str] | None = None) -> int:
    """``python -m skysift.store.columns [--markdown | --write PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m skysift.store.columns",
                                     description="The filterable columns of objects.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--markdown", action="store_true", help="print the markdown table")
    group.add_argument("--write", metavar="PATH", type=Path,
                       help="replace the table between the column markers in PATH")
    args = parser.parse_args(argv)
    if args.write is not None:
        path: Path = args.write
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(replace_block(old, markdown_table()), encoding="utf-8")
        return 0
    if args.markdown:
        sys.stdout.write(markdown_table())
        return 0
    for c in COLUMNS:
        print(f"{c.name}\t{c.type}\t{c.unit}")
    return 0


if __name__ == "__main__":  # pragma: no cover - command line
    raise SystemExit(main())
