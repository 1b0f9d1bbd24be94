"""A made-up catalogue for tests of engine mechanics only: NOT the product's allow-list.

The tables are chosen to exercise the engines (the store on SQLite and PostgreSQL, and the batch
engine): a wide ``objects`` table, a second table joined implicitly on diaObjectId
(``sherlock_classifications``, which the product does not have), a raw ``annotations`` table and
a keyless ``crossmatch_tns``. Tests of what a user's filter may read (validation, security, the
documentation's examples) use the product's catalogue,
:func:`skysift.filters.catalogue.catalogue`, instead (the ``catalogue`` fixture of
tests/filters/conftest.py).
"""

from __future__ import annotations

from skysift.filters.catalogue import Catalogue

BANDS = "ugrizy"


def objects_columns() -> dict[str, str]:
    """120 columns named as Lasair's LSST objects table."""
    cols: dict[str, str] = {
        "diaObjectId": "int", "ra": "float", "decl": "float",
        "firstDiaSourceMjdTai": "float", "lastDiaSourceMjdTai": "float", "latest_psfFlux": "float",
        "nDiaSources": "int", "nPosDiaSources": "int", "nPosDiaSourcesNights": "int",
        "nSourcesGood": "int", "latestR": "float", "medianR": "float",
        "tns_name": "text", "absMag": "float", "absMagMJD": "float",
        "BBBRiseRate": "float", "BBBFallRate": "float", "BBBTemp": "float", "BBBPeakFlux": "float",
        "BBBPeakMJD": "float", "BBBPeakAbsMag": "float", "glat": "float", "ebv": "float",
        "jump1": "float", "jump2": "float", "latestPairMJD": "float",
        "latestPairColourMag": "float",
        "latestPairColourBands": "text", "htm16": "int", "healpix": "int",
    }
    for b in BANDS:
        cols[f"n{b}Sources"] = "int"
        for suffix in ("psfFlux", "latestMJD", "psfFluxMean", "psfFluxMeanErr", "psfFluxSigma",
                       "psfFluxNdata", "fpFluxMean", "fpFluxMeanErr", "psfFluxMin", "psfFluxMax",
                       "psfFluxMaxSlope", "psfFluxErrMean", "scienceFluxMean",
                       "scienceFluxMeanErr"):
            cols[f"{b}_{suffix}"] = "int" if suffix == "psfFluxNdata" else "float"
    return cols


def mechanics_catalogue(*, extra_functions: tuple[str, ...] = ()) -> Catalogue:
    """objects plus sherlock_classifications, annotations, watchlist_hits and crossmatch_tns."""
    return Catalogue(
        {
            "objects": objects_columns(),
            "sherlock_classifications": {
                "diaObjectId": "int", "classification": "text", "catalogue_table_name": "text",
                "separationArcsec": "float", "z": "float", "photoZ": "float",
            },
            "annotations": {
                "diaObjectId": "int", "topic": "text", "classification": "text",
                "classdict": "json", "url": "text",
            },
            "watchlist_hits": {"diaObjectId": "int", "wl_id": "int", "arcsec": "float",
                               "name": "text"},
            "crossmatch_tns": {"tns_name": "text", "type": "text", "z": "float", "ra": "float",
                               "decl": "float"},
        },
        extra_functions=extra_functions,
    )
