"""Hostile filters against the product's catalogue: each is refused, with a message that names
what was refused.

The ``catalogue`` fixture is the allow-list every user filter is validated against
(:func:`skysift.filters.catalogue.catalogue`); ``fruitbat`` is that catalogue as a user who
may read the annotator ``fruitbat`` sees it (:func:`catalogue_with`). The attacks name the
store's real tables and columns (:mod:`skysift.store.schema`): the users' password and token
hashes, other users' filters, watchlists and sessions, the raw alert payloads.
"""

from __future__ import annotations

import pytest

from skysift.filters.catalogue import catalogue_with
from skysift.errors import FilterError, FilterRejected, FilterSyntaxError
from skysift.filters.compile import compile_filter
from skysift.filters.lasair_only import LASAIR_ONLY_TABLES
from skysift.filters.validate import validate_filter
from skysift.store.schema import metadata

#: The store's tables, as the migrations make them.
STORE_TABLES = {t.name: [c.name for c in t.columns] for t in metadata.sorted_tables}


@pytest.fixture(scope="session")
def fruitbat():
    """The product's catalogue for a user who may read the annotator ``fruitbat``."""
    return catalogue_with(frozenset({"fruitbat"}))


HOSTILE = [
    # stacked queries, also behind comments
    ("SELECT diaObjectId FROM objects; DROP TABLE objects",
     "only one SELECT statement is allowed: found 'DROP'"),
    ("SELECT diaObjectId FROM objects WHERE ra > 1; DELETE FROM users", "found 'DELETE' after ';'"),
    ("SELECT diaObjectId FROM objects /* x */; INSERT INTO api_tokens (user_id) VALUES (1)",
     "found 'INSERT' after ';'"),
    ("SELECT diaObjectId FROM objects -- x\n; UPDATE users SET is_admin = 1",
     "found 'UPDATE' after ';'"),
    ("SELECT diaObjectId FROM objects;;; SELECT password_hash FROM users",
     "found 'SELECT' after ';'"),
    # set operations into the store's private tables and the system catalogues
    ("SELECT tns_name FROM objects UNION SELECT password_hash FROM users", "UNION is not allowed"),
    ("SELECT tns_name FROM objects UNION ALL SELECT token_hash FROM api_tokens",
     "UNION is not allowed"),
    ("SELECT diaObjectId FROM objects UNION SELECT name FROM sqlite_master",
     "UNION is not allowed"),
    ("SELECT diaObjectId FROM objects INTERSECT SELECT user_id FROM filters",
     "INTERSECT is not allowed"),
    ("SELECT diaObjectId FROM objects EXCEPT SELECT diaObjectId FROM sources",
     "EXCEPT is not allowed"),
    # system catalogues and schema-qualified names (the store's own tables under another name)
    ("SELECT name FROM sqlite_master", "table 'sqlite_master' is not allowed"),
    ("SELECT usename FROM pg_catalog.pg_user", "table 'pg_catalog.pg_user' is not allowed"),
    ("SELECT table_name FROM information_schema.tables",
     "table 'information_schema.tables' is not allowed"),
    ("SELECT diaObjectId FROM objects, pg_shadow", "table 'pg_shadow' is not allowed"),
    ("SELECT diaObjectId FROM main.objects", "table 'main.objects' is not allowed"),
    ("SELECT diaObjectId FROM public.objects", "table 'public.objects' is not allowed"),
    ("SELECT objects.diaObjectId FROM objects, public.users",
     "table 'public.users' is not allowed"),
    # subqueries anywhere, into tables the catalogue does not have
    ("SELECT diaObjectId FROM objects WHERE diaObjectId IN (SELECT user_id FROM api_tokens)",
     "subqueries are not allowed"),
    ("SELECT diaObjectId FROM (SELECT * FROM objects) AS o", "subqueries are not allowed"),
    ("SELECT diaObjectId FROM objects WHERE EXISTS (SELECT 1 FROM users WHERE is_admin)",
     "subqueries are not allowed"),
    ("SELECT (SELECT password_hash FROM users LIMIT 1) AS x FROM objects",
     "subqueries are not allowed"),
    ("SELECT objects.diaObjectId FROM objects LEFT JOIN (SELECT * FROM watchlist_cones) AS c "
     "ON c.wl_id = 1", "subqueries are not allowed"),
    ("WITH t AS (SELECT token_hash FROM api_tokens) SELECT diaObjectId FROM objects",
     "WITH (common table expressions) is not allowed"),
    # dangerous or slow functions
    ("SELECT load_extension('/tmp/evil.so') AS x FROM objects",
     "function 'load_extension' is not allowed"),
    ("SELECT pg_read_file('/etc/passwd') AS x FROM objects",
     "function 'pg_read_file' is not allowed"),
    ("SELECT diaObjectId FROM objects WHERE sleep(10) = 0", "function 'sleep' is not allowed"),
    ("SELECT diaObjectId FROM objects WHERE pg_sleep(10) IS NULL",
     "function 'pg_sleep' is not allowed"),
    ("SELECT BENCHMARK(100000000, MD5('a')) AS b FROM objects",
     "function 'benchmark' is not allowed"),
    ("SELECT diaObjectId FROM objects WHERE randomblob(1000000000) IS NOT NULL",
     "function 'randomblob' is not allowed"),
    ("SELECT current_setting('data_directory') AS d FROM objects",
     "function 'current_setting' is not allowed"),
    ("SELECT version() AS v FROM objects", "version' is not allowed"),
    # writes and other statements, on the store's real tables
    ("INSERT INTO objects (diaObjectId) VALUES (1)",
     "only SELECT statements are allowed, not 'INSERT'"),
    ("UPDATE users SET is_admin = 1", "only SELECT statements are allowed, not 'UPDATE'"),
    ("DELETE FROM filters", "only SELECT statements are allowed, not 'DELETE'"),
    ("DROP TABLE objects", "only SELECT statements are allowed, not 'DROP'"),
    ("CREATE TABLE x (a int)", "only SELECT statements are allowed, not 'CREATE'"),
    ("ATTACH DATABASE '/tmp/x.db' AS x", "only SELECT statements are allowed, not 'ATTACH'"),
    ("PRAGMA query_only = 0", "only SELECT statements are allowed, not 'PRAGMA'"),
    ("SET statement_timeout = 0", "only SELECT statements are allowed, not 'SET'"),
    ("COPY users TO '/tmp/x'", "only SELECT statements are allowed, not 'COPY'"),
    ("(SELECT diaObjectId FROM objects)", "only SELECT statements are allowed, not '('"),
    # string building, literals and variables
    ("SELECT diaObjectId FROM objects WHERE tns_name = CONCAT('DR', 'OP')",
     "function 'concat' is not allowed"),
    ("SELECT diaObjectId FROM objects WHERE tns_name = 'a' || 'b'", "'||' is not allowed"),
    ("SELECT diaObjectId FROM objects WHERE tns_name = CHAR(65)", "function 'chr' is not allowed"),
    ("SELECT diaObjectId FROM objects WHERE tns_name = 0x73656c656374",
     "hex and bit literals are not allowed"),
    ("SELECT @@version AS v FROM objects", "variables and parameters are not allowed: '@@version'"),
    ("SELECT @x AS v FROM objects", "variables and parameters are not allowed: '@x'"),
    ("SELECT diaObjectId FROM objects WHERE ra > ?", "variables and parameters are not allowed"),
    # columns of tables outside FROM, and store columns the catalogue leaves out
    ("SELECT watchlist_hits.name AS n FROM objects", "table 'watchlist_hits' is not in FROM"),
    ("SELECT diaObjectId FROM objects WHERE objects.ra > 1 AND users.is_admin = 1",
     "table 'users' is not in FROM"),
    ("SELECT users.password_hash AS p FROM objects, users", "table 'users' is not allowed"),
    ("SELECT objects.diaObjectId, t.token_hash FROM objects JOIN api_tokens AS t ON t.id = 1",
     "table 'api_tokens' is not allowed"),
    ("SELECT objects.diaObject AS d FROM objects", "column 'objects.diaObject' does not exist"),
    ("SELECT objects.diaObjectId FROM objects WHERE password_hash = 'x'",
     "column 'password_hash' does not exist"),
    # clauses
    ("SELECT diaObjectId FROM objects INTO OUTFILE '/tmp/x'", "near 'INTO'"),
    ("SELECT diaObjectId FROM objects FOR UPDATE", "FOR UPDATE"),
    ("SELECT diaObjectId FROM objects NATURAL JOIN watchlist_hits", "NATURAL JOIN is not allowed"),
    ("SELECT objects.diaObjectId FROM objects CROSS JOIN gw_events", "CROSS JOIN is not allowed"),
    ("SELECT diaObjectId FROM objects, objects", "table 'objects' appears twice"),
    ("SELECT diaObjectId, ROW_NUMBER() OVER (ORDER BY ra) AS n FROM objects",
     "window functions are not allowed"),
]

#: JSON_EXTRACT reads only an annotator's JSON column (classdict), with one literal path.
HOSTILE_JSON = [
    ("SELECT JSON_EXTRACT(objects.tns_name, '$.a') AS x FROM objects",
     "JSON_EXTRACT reads a JSON column only"),
    ("SELECT JSON_EXTRACT(fruitbat.classification, '$.a') AS x FROM objects, fruitbat",
     "JSON_EXTRACT reads a JSON column only"),
    ("SELECT JSON_EXTRACT(fruitbat.classdict, objects.tns_name) AS x FROM objects, fruitbat",
     "one path in quotes"),
    ("SELECT JSON_EXTRACT(fruitbat.classdict, '$.*') AS x FROM objects, fruitbat",
     "JSON_EXTRACT path '$.*'"),
    ("SELECT JSON_EXTRACT(fruitbat.classdict, '$') AS x FROM objects, fruitbat", "names nothing"),
]


def _refusal(sql: str, catalogue) -> FilterError:
    with pytest.raises((FilterRejected, FilterSyntaxError)) as info:
        validate_filter(sql, catalogue, name="evil")
    assert info.value.filter == "evil"
    return info.value


@pytest.mark.parametrize(("sql", "message"), HOSTILE, ids=[h[0][:60] for h in HOSTILE])
def test_hostile_filter_is_refused_with_a_named_reason(catalogue, sql, message):
    error = _refusal(sql, catalogue)
    assert message in str(error), str(error)


@pytest.mark.parametrize(("sql", "message"), HOSTILE_JSON, ids=[h[0][:60] for h in HOSTILE_JSON])
def test_json_extract_reads_an_annotators_classdict_only(fruitbat, sql, message):
    error = _refusal(sql, fruitbat)
    assert message in str(error), str(error)


def test_the_json_extract_refusals_are_not_refusals_of_the_annotator(fruitbat):
    """The same filter with a good path is accepted: the refusals above are for the path."""
    vf = validate_filter(
        "SELECT JSON_EXTRACT(fruitbat.classdict, '$.a') AS x FROM objects, fruitbat", fruitbat)
    assert vf.columns == ("x",)


#: The store's tables no filter may read: accounts and secrets, other users' filters, lists and
#: maps, the raw alerts, bookkeeping. Written out, not derived from the catalogue under test: a
#: new store table fails test_the_store_tables_filters_may_not_read until it is placed here or
#: documented as a filter table.
PRIVATE = ["annotators", "api_tokens", "email_pending", "filters", "forced_sources", "gw_maps",
           "ingest_stats", "sources", "topic_stats", "users", "watchlist_cones", "watchlists",
           "watchmaps", "web_sessions"]
#: annotations holds every annotator's rows: refused too, with Lasair's explanation.
RAW_ANNOTATIONS = "annotations"


def test_the_store_tables_filters_may_not_read(catalogue):
    """The catalogue is the store's objects and context tables, nothing else: every other
    table of the store is one of PRIVATE (or the raw annotations), and no function is added."""
    assert set(catalogue.tables) <= set(STORE_TABLES)
    assert sorted(set(STORE_TABLES) - set(catalogue.tables)) == sorted([*PRIVATE, RAW_ANNOTATIONS])
    assert not catalogue.extra_functions


@pytest.mark.parametrize("table", PRIVATE)
def test_every_store_table_outside_the_catalogue_is_refused(catalogue, table):
    """In FROM, in a JOIN, and as a column qualifier, whatever the case it is written in."""
    assert catalogue.find_table(table) is None
    column, upper = STORE_TABLES[table][0], table.upper()
    key = "SELECT objects.diaObjectId FROM objects"
    for sql, message in (
            (f"{key}, {table}", f"table '{table}' is not allowed"),
            (f"{key}, {upper}", f"table '{upper}' is not allowed"),
            (f"{key} LEFT JOIN {table} AS t ON t.{column} = 1", f"table '{table}' is not allowed"),
            (f"SELECT {table}.{column} AS x FROM objects", f"table '{table}' is not in FROM")):
        assert str(_refusal(sql, catalogue)).startswith(message), sql


def test_the_raw_annotations_table_is_refused_saying_why(catalogue, fruitbat):
    """``annotations`` holds every annotator's rows, private ones too: a filter reads an
    annotator through its topic only (and only when its owner allows), never the raw table."""
    assert RAW_ANNOTATIONS in STORE_TABLES and RAW_ANNOTATIONS in LASAIR_ONLY_TABLES
    for cat in (catalogue, fruitbat):
        error = _refusal("SELECT objects.diaObjectId, annotations.classdict AS d "
                         "FROM objects, annotations WHERE annotations.topic = 'secretbat'", cat)
        assert str(error).startswith("table 'annotations' is not available in skysift")


@pytest.mark.parametrize("table", sorted(set(STORE_TABLES) & {"objects", "crossmatch_tns",
                                                                "gw_events"}))
def test_store_columns_the_catalogue_leaves_out_do_not_exist_for_filters(catalogue, table):
    hidden = [c for c in STORE_TABLES[table] if c not in catalogue.tables[table]]
    assert hidden, f"{table}: every column of the store is in the catalogue"
    for column in hidden:
        sql = f"SELECT objects.diaObjectId, {table}.{column} AS x FROM objects"
        if table != "objects":
            sql += f", {table}" + (", gw_hits" if table == "gw_events" else "")
        error = _refusal(sql, catalogue)
        assert f"column '{table}.{column}' does not exist" in str(error), str(error)


def test_an_annotator_is_readable_only_by_who_may_read_it(catalogue, fruitbat):
    sql = "SELECT objects.diaObjectId, fruitbat.classdict FROM objects, fruitbat"
    assert "table 'fruitbat' is not allowed" in str(_refusal(sql, catalogue))
    text = compile_filter(validate_filter(sql, fruitbat), "postgresql")
    # the compiled filter reads the annotations of that topic only
    assert "FROM \"annotations\" WHERE \"topic\" = 'fruitbat'" in text


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_watchlist_and_watchmap_hits_are_read_within_the_users_scope(dialect):
    """A filter naming another user's watchlist or watchmap reads no hits of it: the compiled
    text reads the scoped tables only for the ids the user may read, whatever WHERE says."""
    sql = ("SELECT objects.diaObjectId, watchlist_hits.name FROM objects, watchlist_hits "
           "LEFT JOIN area_hits AS a ON a.diaObjectId = objects.diaObjectId "
           "WHERE watchlist_hits.wl_id = 7 OR a.ar_id = 9 OR 1 = 1")
    mine = compile_filter(validate_filter(sql, catalogue_with(frozenset(), frozenset({3}),
                                                              frozenset({1}))), dialect)
    assert '(SELECT * FROM "watchlist_hits" WHERE "wl_id" IN (3)) AS "watchlist_hits"' in mine
    assert '(SELECT * FROM "area_hits" WHERE "ar_id" IN (1)) AS "a"' in mine
    nobody = compile_filter(validate_filter(sql, catalogue_with(frozenset())), dialect)
    assert '(SELECT * FROM "watchlist_hits" WHERE 1 = 0) AS "watchlist_hits"' in nobody
    assert '(SELECT * FROM "area_hits" WHERE 1 = 0) AS "a"' in nobody


def test_sleep_is_only_allowed_by_a_test_catalogue(catalogue, mechanics_catalogue):
    sql = "SELECT diaObjectId FROM objects WHERE sleep(1) = 0"
    with pytest.raises(FilterRejected, match="function 'sleep' is not allowed"):
        validate_filter(sql, catalogue)
    assert validate_filter(sql, mechanics_catalogue).columns == ("diaObjectId",)


@pytest.mark.parametrize("sql", [
    "SELECT diaObjectId FROM objects -- ; DROP TABLE objects",
    "SELECT diaObjectId FROM objects WHERE ra > 1 /*! ; DROP TABLE users */",
    "SELECT diaObjectId FROM objects WHERE ra > 1 # ; DROP TABLE objects",
])
def test_comments_cannot_smuggle_anything_into_the_compiled_sql(catalogue, sql):
    vf = validate_filter(sql, catalogue)
    for dialect in ("sqlite", "postgresql"):
        text = compile_filter(vf, dialect)
        assert "DROP" not in text.upper() and "/*" not in text and "--" not in text


def test_strings_stay_strings_in_every_dialect(catalogue):
    vf = validate_filter(
        "SELECT diaObjectId FROM objects WHERE tns_name = 'x''; DROP TABLE objects; --'", catalogue)
    for dialect in ("sqlite", "postgresql"):
        assert "= 'x''; DROP TABLE objects; --'" in compile_filter(vf, dialect)


def test_every_refusal_is_a_filter_error(catalogue, fruitbat):
    for sql, _ in HOSTILE:
        with pytest.raises(FilterError):
            validate_filter(sql, catalogue)
    for sql, _ in HOSTILE_JSON:
        with pytest.raises(FilterError):
            validate_filter(sql, fruitbat)
