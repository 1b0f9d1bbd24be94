"""Hostile filters: each is refused, with a message that names what was refused."""

from __future__ import annotations

import pytest

from skysift.errors import FilterError, FilterRejected, FilterSyntaxError
from skysift.filters.compile import compile_filter
from skysift.filters.validate import validate_filter

HOSTILE = [
    # stacked queries, also behind comments
    ("SELECT diaObjectId FROM objects; DROP TABLE objects",
     "only one SELECT statement is allowed: found 'DROP'"),
    ("SELECT diaObjectId FROM objects WHERE ra > 1; DELETE FROM objects",
     "found 'DELETE' after ';'"),
    ("SELECT diaObjectId FROM objects /* x */; INSERT INTO objects VALUES (1)",
     "found 'INSERT' after ';'"),
    ("SELECT diaObjectId FROM objects -- x\n; UPDATE objects SET ra = 0",
     "found 'UPDATE' after ';'"),
    ("SELECT diaObjectId FROM objects;;; SELECT 1", "found 'SELECT' after ';'"),
    # set operations into the system catalogues
    ("SELECT diaObjectId FROM objects UNION SELECT name FROM sqlite_master",
     "UNION is not allowed"),
    ("SELECT diaObjectId FROM objects UNION ALL SELECT usename FROM pg_catalog.pg_user",
     "UNION is not allowed"),
    ("SELECT diaObjectId FROM objects INTERSECT SELECT 1", "INTERSECT is not allowed"),
    ("SELECT diaObjectId FROM objects EXCEPT SELECT 1", "EXCEPT is not allowed"),
    # tables that are not in the catalogue
    ("SELECT name FROM sqlite_master", "table 'sqlite_master' is not allowed"),
    ("SELECT usename FROM pg_catalog.pg_user", "table 'pg_catalog.pg_user' is not allowed"),
    ("SELECT table_name FROM information_schema.tables",
     "table 'information_schema.tables' is not allowed"),
    ("SELECT diaObjectId FROM objects, pg_shadow", "table 'pg_shadow' is not allowed"),
    ("SELECT diaObjectId FROM main.objects", "table 'main.objects' is not allowed"),
    ("SELECT diaObjectId FROM users", "table 'users' is not allowed"),
    # subqueries anywhere
    ("SELECT diaObjectId FROM objects WHERE diaObjectId IN (SELECT rootpage FROM sqlite_master)",
     "subqueries are not allowed"),
    ("SELECT diaObjectId FROM (SELECT * FROM objects) AS o", "subqueries are not allowed"),
    ("SELECT diaObjectId FROM objects WHERE EXISTS (SELECT 1 FROM objects)",
     "subqueries are not allowed"),
    ("SELECT (SELECT 1) AS x FROM objects", "subqueries are not allowed"),
    ("WITH t AS (SELECT 1) SELECT diaObjectId FROM objects",
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
    # JSON_EXTRACT reads only JSON columns (annotators' classdict), with a literal path
    ("SELECT JSON_EXTRACT(objects.ra, '$.a') AS x FROM objects",
     "JSON_EXTRACT reads a JSON column only"),
    ("SELECT JSON_EXTRACT(classdict, objects.ra) AS x FROM objects, annotations",
     "one path in quotes"),
    ("SELECT JSON_EXTRACT(classdict, '$.*') AS x FROM objects, annotations", "JSON_EXTRACT path"),
    ("SELECT JSON_EXTRACT(classdict, '$') AS x FROM objects, annotations", "names nothing"),
    # writes and other statements
    ("INSERT INTO objects (diaObjectId) VALUES (1)",
     "only SELECT statements are allowed, not 'INSERT'"),
    ("UPDATE objects SET ra = 0", "only SELECT statements are allowed, not 'UPDATE'"),
    ("DELETE FROM objects", "only SELECT statements are allowed, not 'DELETE'"),
    ("DROP TABLE objects", "only SELECT statements are allowed, not 'DROP'"),
    ("CREATE TABLE x (a int)", "only SELECT statements are allowed, not 'CREATE'"),
    ("ATTACH DATABASE '/tmp/x.db' AS x", "only SELECT statements are allowed, not 'ATTACH'"),
    ("PRAGMA query_only = 0", "only SELECT statements are allowed, not 'PRAGMA'"),
    ("SET statement_timeout = 0", "only SELECT statements are allowed, not 'SET'"),
    ("COPY objects TO '/tmp/x'", "only SELECT statements are allowed, not 'COPY'"),
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
    # columns outside what is joined, or that do not exist
    ("SELECT sherlock_classifications.classification AS c FROM objects",
     "table 'sherlock_classifications' is not in FROM"),
    ("SELECT objects.password FROM objects", "column 'objects.password' does not exist"),
    ("SELECT diaObjectId FROM objects WHERE objects.ra > 1 AND users.admin = 1",
     "table 'users' is not in FROM"),
    # clauses
    ("SELECT diaObjectId FROM objects INTO OUTFILE '/tmp/x'", "near 'INTO'"),
    ("SELECT diaObjectId FROM objects FOR UPDATE", "FOR UPDATE"),
    ("SELECT diaObjectId FROM objects NATURAL JOIN sherlock_classifications",
     "NATURAL JOIN is not allowed"),
    ("SELECT objects.diaObjectId FROM objects CROSS JOIN sherlock_classifications",
     "CROSS JOIN is not allowed"),
    ("SELECT diaObjectId FROM objects, objects", "table 'objects' appears twice"),
    ("SELECT diaObjectId, ROW_NUMBER() OVER (ORDER BY ra) AS n FROM objects",
     "window functions are not allowed"),
]


@pytest.mark.parametrize("sql, message", HOSTILE, ids=[h[0][:60] for h in HOSTILE])
def test_hostile_filter_is_refused_with_a_named_reason(catalogue, sql, message):
    with pytest.raises((FilterRejected, FilterSyntaxError)) as info:
        validate_filter(sql, catalogue, name="evil")
    assert message in str(info.value), str(info.value)
    assert info.value.filter == "evil"


def test_sleep_is_only_allowed_by_a_test_catalogue(catalogue, test_catalogue):
    sql = "SELECT diaObjectId FROM objects WHERE sleep(1) = 0"
    with pytest.raises(FilterRejected):
        validate_filter(sql, catalogue)
    assert validate_filter(sql, test_catalogue).columns == ("diaObjectId",)


@pytest.mark.parametrize("sql", [
    "SELECT diaObjectId FROM objects -- ; DROP TABLE objects",
    "SELECT diaObjectId FROM objects WHERE ra > 1 /*! ; DROP TABLE objects */",
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


def test_every_refusal_is_a_filter_error(catalogue):
    for sql, _ in HOSTILE:
        with pytest.raises(FilterError):
            validate_filter(sql, catalogue)
