"""Writes hostile_sql.jsonl: filter SQL a hostile or careless user might send. A line marked
``refused`` must be refused (FilterError) by every path that accepts SQL; one marked ``harmless``
may be accepted, but must compile to text of bounded size and fail, if at all, alone. None may
answer 500 or stop anything.

Held out from the development tests (tests/filters/test_security.py): written from the red
team's categories, not from those strings. Run ``python make_corpus.py`` to write it again.
"""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "hostile_sql.jsonl"
K = "objects.diaObjectId"
cases: list[tuple[str, str, str]] = []


def add(category: str, sql: str, expect: str = "refused") -> None:
    cases.append((category, sql, expect))


# 1. more than one statement, hidden in comments and strings
for tail in ("DROP TABLE users", "DELETE FROM filters", "UPDATE users SET is_admin = 1",
             "INSERT INTO users (name) VALUES ('x')", "ATTACH DATABASE '/tmp/x' AS x",
             "PRAGMA writable_schema = 1", "VACUUM", "COPY users TO '/tmp/u'",
             "SELECT pg_sleep(100)", "CREATE TABLE t (a int)"):
    add("stacked", f"SELECT {K} FROM objects; {tail}")
    add("stacked", f"SELECT {K} FROM objects /* ; */ ; {tail} -- ")
    add("stacked", f"SELECT {K} FROM objects WHERE objects.ra > 0;\n\n{tail};")
# 2. tables outside the catalogue, however spelled
for table in ("users", "filters", "annotators", "annotations", "email_pending", "web_sessions",
              "ingest_stats", "topic_stats", "sources", "forced_sources", "alembic_version",
              "sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_sequence",
              "pg_user", "pg_shadow", "pg_authid", "pg_stat_activity", "pg_settings",
              "information_schema.tables", "pg_catalog.pg_proc", "main.sqlite_master",
              "public.users", "temp.x", '"users"', "`users`", "USERS", "Users",
              "pragma_table_info('users')", "json_each('[1]')", "generate_series(1, 1000000000)"):
    add("table", f"SELECT {K} FROM objects, {table}")
    add("table", f"SELECT {K} FROM objects JOIN {table} ON 1 = 1")
add("table", "SELECT name FROM users")
add("table", "SELECT token_hash FROM users AS objects")
add("table", f"SELECT {K}, objects.payload FROM objects")
add("table", f"SELECT {K}, objects.token_hash FROM objects")
add("table", f"SELECT {K}, users.password_hash FROM objects")
# 3. subqueries in every clause
for where in (f"{K} IN (SELECT id FROM users)", "EXISTS (SELECT 1 FROM users)",
              "(SELECT COUNT(*) FROM users) > 0", "objects.ra > ALL (SELECT 1)",
              "objects.ra > ANY (SELECT 1)", "objects.ra = (SELECT 1)"):
    add("subquery", f"SELECT {K} FROM objects WHERE {where}")
add("subquery", f"SELECT {K}, (SELECT name FROM users LIMIT 1) AS n FROM objects")
add("subquery", f"SELECT {K} FROM (SELECT * FROM users) AS objects")
add("subquery", f"SELECT {K} FROM objects ORDER BY (SELECT 1)")
add("subquery", f"SELECT {K} FROM objects GROUP BY {K} HAVING (SELECT 1) = 1")
add("subquery", f"SELECT {K} FROM objects LIMIT (SELECT 1)")
add("subquery",
    f"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT {K} FROM objects")
add("subquery", f"SELECT {K} FROM objects UNION SELECT id FROM users")
add("subquery", f"SELECT {K} FROM objects UNION ALL SELECT 1")
add("subquery", f"SELECT {K} FROM objects EXCEPT SELECT 1")
add("subquery", f"SELECT {K} FROM objects INTERSECT SELECT 1")
add("subquery", f"(SELECT {K} FROM objects)")
# 4. functions that read files, reach the network, sleep, or change the session
for fn in ("load_extension('/tmp/x.so')", "readfile('/etc/passwd')", "writefile('/tmp/x', 'y')",
           "edit('x')", "fts3_tokenizer('simple')", "sqlite_version()", "sqlite_source_id()",
           "randomblob(2000000000)", "zeroblob(2000000000)", "printf('%s', 1)",
           "pg_read_file('/etc/passwd')", "pg_read_binary_file('/etc/passwd')",
           "pg_ls_dir('/')", "pg_stat_file('/')", "lo_import('/etc/passwd')",
           "lo_export(1, '/tmp/x')", "dblink('host=evil', 'select 1')", "pg_sleep(100)",
           "pg_terminate_backend(1)", "pg_cancel_backend(1)", "set_config('a', 'b', false)",
           "current_setting('data_directory')", "inet_server_addr()", "version()",
           "current_user()", "session_user()", "txid_current()", "nextval('x')",
           "pg_advisory_lock(1)", "query_to_xml('select 1', true, true, '')",
           "sleep(100)", "benchmark(1000000000, md5('a'))", "load_file('/etc/passwd')",
           "sys_exec('id')", "user()", "database()", "uuid()", "random()",
           "md5('a')", "repeat('a', 1000000000)", "lpad('a', 1000000000, 'b')",
           "replace(repeat('a', 100000), 'a', repeat('b', 100000))", "char(65)",
           "unhex('41')", "hex(randomblob(100))", "likelihood(1, 0.5)", "unlikely(1)",
           "typeof(1)", "quote(1)", "glob('*', 'a')", "instr('a', 'b')",
           "substr(objects.ra, 1)", "length(objects.ra)", "trim(objects.ra)",
           "concat('a', 'b')", "group_concat(objects.ra)", "string_agg('a', ',')",
           "array_agg(objects.ra)", "json_object('a', 1)", "json_group_array(1)",
           "to_char(1, '9')", "now()", "clock_timestamp()", "gen_random_uuid()"):
    add("function", f"SELECT {K}, {fn} AS x FROM objects")
    add("function", f"SELECT {K} FROM objects WHERE {fn} IS NOT NULL")
# 5. nesting that would exhaust the compiler, or grow it exponentially
add("deep", f"SELECT {K}, " + "CASE WHEN objects.ra > 0 THEN " * 15 + "1" + " END" * 15
    + " AS x FROM objects", "harmless")
for n in (60, 100, 400, 2000):
    add("deep", f"SELECT {K}, " + "- " * n + "objects.ra AS x FROM objects")
    add("deep", f"SELECT {K}, " + "(" * n + "objects.ra" + ")" * n + " AS x FROM objects")
    add("deep", f"SELECT {K}, " + "abs(" * n + "objects.ra" + ")" * n + " AS x FROM objects")
    add("deep", f"SELECT {K}, " + "NOT " * n + "objects.ra > 0 AS x FROM objects")
    if n > 60:
        add("deep", f"SELECT {K}, " + "CASE WHEN objects.ra > 0 THEN " * (n // 4) + "1"
            + " END" * (n // 4) + " AS x FROM objects")
# nested 26 deep they compile linearly (they used to grow as 2^n or 3^n) and are allowed;
# 40 deep (twice as deep, as exp(- counts) is past the depth limit
for n, expect in ((26, "harmless"), (40, "refused")):
    for fn in ("greatest(1, ", "power(2, ", "flux2mag("):
        add("exponential", f"SELECT {K}, " + fn * n + "objects.ra" + ")" * n + " AS x FROM objects",
            expect)
    add("exponential",
        f"SELECT {K}, " + "exp(-" * n + "objects.ra" + ")" * n + " AS x FROM objects")
# 6. size: too long, too many nodes
add("size",
    f"SELECT {K} FROM objects WHERE {K} IN (" + ", ".join(str(i) for i in range(5000)) + ")")
add("size",
    f"SELECT {K} FROM objects WHERE " + " OR ".join(f"objects.ra = {i}" for i in range(3000)))
add("size", f"SELECT {K}, '" + "a" * 25000 + "' AS x FROM objects")
add("size", f"SELECT {K} FROM objects -- " + "x" * 30000)
# 7. other statements and syntax tricks
for stmt in ("DELETE FROM objects", "UPDATE objects SET ra = 0",
             "INSERT INTO objects SELECT * FROM objects",
             "REPLACE INTO objects (diaObjectId) VALUES (1)", "DROP TABLE objects",
             "ALTER TABLE objects ADD COLUMN x int", "CREATE INDEX i ON objects (ra)",
             "TRUNCATE objects", "GRANT ALL ON objects TO public", "EXPLAIN SELECT 1",
             "ANALYZE", "REINDEX", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT a",
             "DETACH DATABASE main", "LOAD DATA INFILE '/etc/passwd' INTO TABLE objects",
             "CALL x()", "DO $$ BEGIN END $$", "LISTEN x", "NOTIFY x", "SHOW ALL",
             "SET ROLE postgres", "RESET ALL", "COPY objects FROM PROGRAM 'id'"):
    add("statement", stmt)
add("syntax", f"SELECT {K} FROM objects INTO OUTFILE '/tmp/x'")
add("syntax", f"SELECT {K} FROM objects FOR UPDATE")
add("syntax", f"SELECT {K} INTO t FROM objects")
add("syntax", f"SELECT {K} FROM objects WHERE objects.ra > 0 || 1 = 1")
add("syntax", f"SELECT {K} FROM objects WHERE objects.ra > 0\x00; DROP TABLE users")
add("syntax", f"ＳＥＬＥＣＴ {K} FROM objects")  # noqa: RUF001 - fullwidth letters on purpose
add("syntax", f"SELECT {K} FROM objects WHERE objects.ra > 0 ; ", "harmless")
add("syntax", "")
add("syntax", "   -- only a comment")
add("syntax", f"SELECT {K} FROM objects WHERE")
add("syntax", f"SELECT {K} FROM objects WHERE objects.ra >")
add("syntax", f"SELECT {K} FROM objects WHERE 'unterminated")
add("syntax", f"SELECT {K} FROM objects WHERE objects.nosuchcolumn > 0")
add("syntax", f"SELECT {K} FROM objects LIMIT -1")
add("syntax", f"SELECT {K} FROM objects LIMIT 1 OFFSET 1000000000000")
add("syntax", "SELECT * FROM objects, objects AS o2, objects AS o3, objects AS o4")
add("syntax", f"SELECT {K} FROM objects CROSS JOIN objects AS o2 CROSS JOIN objects AS o3")
add("syntax", f"SELECT {K} FROM objects NATURAL JOIN users")
add("syntax", f"SELECT {K} FROM objects USE INDEX (x)")
add("syntax", f"SELECT {K} FROM objects TABLESAMPLE SYSTEM (1)")
add("syntax", f"SELECT {K} FROM objects WINDOW w AS (ORDER BY objects.ra)")
add("syntax", f"SELECT {K}, row_number() OVER (ORDER BY objects.ra) AS r FROM objects")
add("syntax", f"SELECT {K}, objects.ra COLLATE \"C\" AS x FROM objects")
add("syntax", f"SELECT {K} FROM objects WHERE objects.ra ~ 'a'")
add("syntax", f"SELECT {K} FROM objects WHERE objects.ra REGEXP '(a+)+$'")
add("syntax", f"SELECT {K}, CAST(objects.ra AS BLOB) AS x FROM objects")
add("syntax", f"SELECT {K}, objects.ra::text AS x FROM objects")
add("syntax", f"SELECT {K}, x'41' AS x FROM objects")
add("syntax", f"SELECT {K}, $1 AS x FROM objects")
add("syntax", f"SELECT {K}, ? AS x FROM objects")
add("syntax", f"SELECT {K}, :name AS x FROM objects")
add("syntax", f"SELECT {K}, @@version AS x FROM objects")

with OUT.open("w") as fh:
    for category, sql, expect in cases:
        fh.write(json.dumps({"category": category, "expect": expect, "sql": sql}) + "\n")
print(f"{len(cases)} hostile filters written to {OUT.name}")
