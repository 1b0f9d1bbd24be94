"""Lasair's published filters (tests/data/lasair_filters/filters.yaml) against skysift.

Every filter that reads only tables skysift has validates against the product's catalogue and
runs on the SQLite and the PostgreSQL store over stored objects, giving the columns its SELECT
names. Every other one is refused with the exception and message the file records: for Lasair's
own tables (Sherlock, TNS crossmatch) a message that names the table and says why. (The SQL
examples of the documentation are tested in test_doc_sql.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from skysift.filters.catalogue import catalogue_with
from skysift.errors import FilterRejected, FilterSyntaxError
from skysift.filters.compile import check_compiles
from skysift.filters.lasair_only import LASAIR_ONLY_TABLES
from skysift.filters.manage import catalogue as product_catalogue
from skysift.filters.manage import run_filter
from skysift.filters.validate import validate_filter
from skysift.web.api.query import build_sql
from skysift.web.httperrors import BadInput
from skysift.web.sqlparts import compose

from rubin_alerts import grown_light_curves

ROOT = Path(__file__).resolve().parents[2]
DATA = yaml.safe_load((ROOT / "tests/data/lasair_filters/filters.yaml").read_text())
FILTERS = DATA["filters"]
RUNS = [f for f in FILTERS if f["expect"] == "runs"]
REFUSED = [f for f in FILTERS if f["expect"] == "refused"]
ERRORS = {"FilterRejected": FilterRejected, "FilterSyntaxError": FilterSyntaxError,
          "BadInput": BadInput}
#: What each Lasair-only table's refusal must say (besides naming the table).
WHY = {"sherlock_classifications": "Sherlock"}
N_OBJECTS, N_ALERTS = 12, 4
BRIGHT = 300_000.0  # nJy: above make_filter.md's 200000


def lasair_sql(f: dict) -> str:
    """The filter as one statement, joined as skysift's API (``via: api``) or its filter editor
    (``via: editor``) joins Lasair's three boxes."""
    build = {"api": build_sql, "editor": compose}[f["via"]]
    return build(f["selected"], f["tables"], f["conditions"])


def test_the_collection():
    assert len(FILTERS) == 24
    assert (len(RUNS), len(REFUSED)) == (11, 13)
    assert len({f["name"] for f in FILTERS}) == len(FILTERS)
    for f in FILTERS:
        assert f["source"] in DATA["sources"], f["name"]
        assert f["via"] in ("api", "editor"), f["name"]
        assert f["path"] and f["where"], f["name"]
        if f["expect"] == "refused":
            assert ("table" in f) != ("message" in f), f["name"]
    for src in DATA["sources"].values():
        assert re.fullmatch(r"[0-9a-f]{40}", src["commit"]) and src["license"].startswith(
            "Apache-2.0"
        )


@pytest.mark.parametrize("f", RUNS, ids=lambda f: f["name"])
def test_runnable_filters_validate_against_the_product_catalogue(f):
    vf = validate_filter(lasair_sql(f), product_catalogue(), name=f["name"])
    check_compiles(vf)
    assert vf.columns == _select_names(f["selected"])
    assert set(vf.tables) <= {"objects", "watchlist_hits", "area_hits", "crossmatch_tns"}


def _select_names(selected: str) -> tuple[str, ...]:
    """The output names a SELECT box gives: the alias, or the column's own name (the boxes of
    the collection have no commas inside expressions)."""
    names = []
    for item in selected.split(","):
        item = item.strip()
        alias = re.search(r"\bAS\s+(\w+)$", item, re.IGNORECASE)
        names.append(alias.group(1) if alias else item.rsplit(".", 1)[-1])
    return tuple(names)


@pytest.mark.parametrize("f", REFUSED, ids=lambda f: f["name"])
def test_other_filters_are_refused_saying_why(f):
    # the product catalogue, plus the annotator a filter names (as its owner would see it)
    cat = catalogue_with(frozenset({"fastfinder"}))
    with pytest.raises(ERRORS[f.get("error", "FilterRejected")]) as info:
        check_compiles(validate_filter(lasair_sql(f), cat, name=f["name"]))
    message = info.value.message if hasattr(info.value, "message") else str(info.value)
    if "table" in f:
        table = f["table"]
        assert type(info.value) is FilterRejected
        assert (
            message == f"table '{table}' is not available in skysift: {LASAIR_ONLY_TABLES[table]}"
        )
        assert WHY[table] in message
        assert info.value.filter == f["name"]
    else:
        assert message.startswith(f["message"]), message


@pytest.mark.parametrize("table", sorted(LASAIR_ONLY_TABLES))
def test_every_lasair_only_table_is_explained_in_from_and_in_columns(table):
    cat = product_catalogue()
    assert cat.find_table(table) is None
    prefix = f"table '{table}' is not available in skysift: "
    with pytest.raises(FilterRejected, match=re.escape(prefix)):
        validate_filter(f"SELECT objects.diaObjectId FROM objects, {table}", cat)
    with pytest.raises(FilterRejected, match=re.escape(prefix)):
        validate_filter(f"SELECT {table}.x AS x FROM objects", cat)


def test_a_table_nobody_has_is_still_just_not_allowed():
    with pytest.raises(FilterRejected, match=r"^table 'users' is not allowed$"):
        validate_filter("SELECT objects.diaObjectId FROM objects, users", product_catalogue())


@pytest.fixture
def stored(store_url):
    """A migrated store with N_OBJECTS objects; objects 0 and 1 end with a bright g source."""
    from skysift.store.database import open_store
    from skysift.features.update import store_alerts

    alerts = grown_light_curves(N_OBJECTS, N_ALERTS, seed=7)
    latest = {}  # each object's alert with the latest diaSource
    for a in alerts:
        if (a.diaObjectId not in latest or a.diaSource["midpointMjdTai"]
                > latest[a.diaObjectId].diaSource["midpointMjdTai"]):
            latest[a.diaObjectId] = a
    ids = sorted(latest)
    for k, oid in enumerate(ids[:2]):
        a = latest[oid]
        a.diaSource = dict(a.diaSource, band="g", psfFlux=BRIGHT + k)
    engine = open_store(store_url)
    with engine.begin() as conn:
        store_alerts(conn, alerts)
        # two objects with TNS names (as `skysift tns load` leaves them), typed SN II and AGN
        from skysift.store.schema import crossmatch_tns, objects

        for oid, name, kind in ((ids[2], "2026snii", "SN II"), (ids[3], "2026agn", "AGN")):
            conn.execute(crossmatch_tns.insert().values(tns_name=name, tns_prefix="SN", ra=1.0,
                                                        decl=2.0, type=kind))
            conn.execute(objects.update().where(objects.c.diaObjectId == oid)
                         .values(tns_name=name))
        conn.execute(crossmatch_tns.insert().values(tns_name="2026far", ra=3.0, decl=4.0,
                                                    type="SN II"))  # no object of ours
    yield engine, ids
    engine.dispose()


def test_runnable_filters_run_on_the_store(stored, make_settings):
    engine, ids = stored
    settings = make_settings()
    results = {}
    with engine.connect() as conn:
        for f in RUNS:
            result = run_filter(conn, settings, lasair_sql(f), name=f["name"])
            assert not result.truncated
            for row in result.rows:
                assert tuple(k for k in row if not k.startswith("__")) == _select_names(
                    f["selected"]
                )
                key = row.get("diaObjectId", row.get("__diaObjectId"))
                assert key in ids, f["name"]
            results[f["name"]] = result.rows
    # the run reads the stored objects: all of them without WHERE, the two bright ones here
    assert sorted(r["diaObjectId"] for r in results["alert_streams_plain"]) == ids
    assert sorted(r["diaObjectId"] for r in results["make_filter_bright"]) == ids[:2]
    assert [r["g_psfFlux"] for r in results["make_filter_bright"]
            if r["diaObjectId"] == ids[1]] == [BRIGHT + 1]
    latest = results["make_filter_bright_latest_first"]
    assert sorted(r["diaObjectId"] for r in latest) == ids[:2]
    assert latest[0]["since"] <= latest[1]["since"]  # most recent detection first
    # crossmatch_tns joins objects on tns_name, as in Lasair
    assert [
        (r["diaObjectId"], r["tns_name"], r["type"]) for r in results["cookbook_snii_from_tns"]
    ] == [(ids[2], "2026snii", "SN II")]
    assert sorted((r["diaObjectId"], r["type"]) for r in results["cookbook_several_tns_types"]) \
        == sorted([(ids[2], "SN II"), (ids[3], "AGN")])
    # no watchlist is visible in this store: the scoped hits are empty
    assert results["examples_watchlist_hits"] == []
    assert results["cookbook_gaia_white_dwarf_outbursts"] == []

