"""compile_filter: the SQL text for SQLite and PostgreSQL (behaviour is in test_engine.py)."""

from __future__ import annotations

import pytest

from skysift.filters.compile import compile_filter
from skysift.filters.validate import validate_filter

DIALECTS = ("sqlite", "postgresql")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_identifiers_are_quoted_so_camel_case_survives(catalogue, dialect):
    vf = validate_filter(
        "SELECT diaObjectId, g_psfFlux FROM objects WHERE nDiaSources > 1", catalogue
    )
    text = compile_filter(vf, dialect)
    assert text.startswith('SELECT "objects"."diaObjectId", "objects"."g_psfFlux" FROM "objects"')
    assert '"objects"."nDiaSources" > 1' in text


@pytest.mark.parametrize("dialect", DIALECTS)
def test_hidden_key_is_last_only_when_needed(catalogue, dialect):
    hidden = compile_filter(validate_filter("SELECT ra, decl FROM objects", catalogue), dialect)
    assert hidden.startswith('SELECT "objects"."ra", "objects"."decl", "objects"."diaObjectId" AS '
                             '"__diaObjectId" FROM')
    selected = compile_filter(validate_filter("SELECT diaObjectId, ra FROM objects",
                                              catalogue), dialect)
    assert "__diaObjectId" not in selected


@pytest.mark.parametrize("dialect", DIALECTS)
def test_restrict_ids_and_limit_go_into_the_tree(catalogue, dialect):
    vf = validate_filter("SELECT diaObjectId FROM objects WHERE ra < 1 OR ra > 359", catalogue)
    text = compile_filter(vf, dialect, restrict_ids=[170000000000000003, 2, 2, 1], limit=5)
    assert text.endswith(
        'WHERE ("objects"."ra" < 1 OR "objects"."ra" > 359) AND '
        '"objects"."diaObjectId" IN (1, 2, 170000000000000003) LIMIT 5')
    empty = compile_filter(vf, dialect, restrict_ids=[])
    assert empty.endswith("AND 1 = 0")


def test_restrict_ids_must_be_integers_and_limit_non_negative(catalogue):
    vf = validate_filter("SELECT diaObjectId FROM objects", catalogue)
    for bad in (["1; DROP TABLE objects"], [1.5], [True]):
        with pytest.raises(TypeError):
            compile_filter(vf, "sqlite", restrict_ids=bad)
    with pytest.raises(ValueError):
        compile_filter(vf, "sqlite", limit=-1)
    with pytest.raises(ValueError):
        compile_filter(vf, "mysql")  # type: ignore[arg-type]


def test_compiled_text_is_cached_and_the_validated_tree_untouched(catalogue):
    vf = validate_filter("SELECT ra FROM objects ORDER BY ra", catalogue)
    before = vf.canonical_sql()
    first = compile_filter(vf, "sqlite")
    assert compile_filter(vf, "sqlite") is first
    compile_filter(vf, "postgresql", restrict_ids=[1], limit=3)
    assert vf.canonical_sql() == before
    assert compile_filter(vf, "sqlite") is first


def test_order_by_gets_the_key_as_tie_breaker(catalogue):
    vf = validate_filter("SELECT diaObjectId FROM objects ORDER BY ra DESC", catalogue)
    assert compile_filter(vf, "sqlite").endswith('ORDER BY "objects"."ra" DESC, '
                                                 '"objects"."diaObjectId" ASC')
    # PostgreSQL sorts NULLs last ascending; MySQL (and SQLite) first: made explicit.
    assert compile_filter(vf, "postgresql").endswith(
        'ORDER BY "objects"."ra" DESC NULLS LAST, "objects"."diaObjectId" ASC NULLS FIRST')


def test_postgres_gets_native_guarded_functions(catalogue):
    vf = validate_filter(
        "SELECT diaObjectId, flux2mag(g_psfFlux) AS m, mjdnow() AS now, "
        "nPosDiaSources / nDiaSources AS f FROM objects WHERE tns_name LIKE 'sn%'", catalogue)
    text = compile_filter(vf, "postgresql")
    # the store's SQL function (migration 0004), the argument written once
    assert 'SKYSIFT_FLUX2MAG(CAST("objects"."g_psfFlux" AS DOUBLE PRECISION)) AS "m"' in text
    assert "EXTRACT(EPOCH FROM CURRENT_TIMESTAMP)" in text and "/ 86400.0 + 40587" in text
    assert (
        'CAST("objects"."nPosDiaSources" AS DOUBLE PRECISION) / NULLIF("objects"."nDiaSources", 0)'
        in text
    )
    assert "ILIKE 'sn%'" in text


def test_sqlite_calls_the_registered_functions(catalogue):
    vf = validate_filter(
        "SELECT diaObjectId, flux2mag(g_psfFlux) AS m, GREATEST(ra, decl) AS g, ROUND(ra) AS r "
        "FROM objects WHERE nPosDiaSources / nDiaSources > 0.5", catalogue)
    text = compile_filter(vf, "sqlite")
    assert 'FLUX2MAG("objects"."g_psfFlux") AS "m"' in text
    assert 'MAX("objects"."ra", "objects"."decl") AS "g"' in text
    assert 'ROUND("objects"."ra", 0) AS "r"' in text
    assert 'CAST("objects"."nPosDiaSources" AS REAL) / "objects"."nDiaSources" > 0.5' in text


def test_function_arguments_keep_their_grouping_on_postgres(catalogue):
    vf = validate_filter("SELECT diaObjectId, SQRT(ra - decl) * 2 AS s, ROUND(ra - decl) AS r "
                         "FROM objects", catalogue)
    text = compile_filter(vf, "postgresql")
    assert 'SKYSIFT_SQRT(CAST("objects"."ra" - "objects"."decl" AS DOUBLE PRECISION)) * 2' in text
    assert 'ROUND(CAST(("objects"."ra" - "objects"."decl") AS DECIMAL), CAST(0 AS INT))' in text
