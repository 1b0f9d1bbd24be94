"""The editor's SELECT / FROM / WHERE boxes: split and compose keep the user's text."""

from __future__ import annotations

import pytest

from skysift.web.sqlparts import compose, locate, split


@pytest.mark.parametrize("sql, parts", [
    ("SELECT objects.ra FROM objects WHERE objects.ra > 1",
     ("objects.ra", "objects", "objects.ra > 1")),
    ("select objects.ra,\n  (objects.decl) from objects\nwhere objects.ra > 'from where'",
     ("objects.ra,\n  (objects.decl)", "objects", "objects.ra > 'from where'")),
    ("SELECT objects.ra FROM objects ORDER BY objects.ra DESC",
     ("objects.ra", "objects", "ORDER BY objects.ra DESC")),
    ("SELECT objects.ra FROM objects", ("objects.ra", "objects", "")),
    ("SELECT objects.`from` FROM objects WHERE objects.ra IN (SELECT 1 FROM x WHERE y)",
     ("objects.`from`", "objects", "objects.ra IN (SELECT 1 FROM x WHERE y)")),
])
def test_split_then_compose_gives_the_same_query(sql, parts):
    assert split(sql) == parts
    assert split(compose(*parts)) == parts


@pytest.mark.parametrize("sql", ["-- note\nSELECT objects.ra FROM objects", "DELETE FROM objects",
                                 "SELECT 1", "SELECT a FROM b UNION SELECT c FROM d"])
def test_queries_that_are_not_three_boxes_are_not_split(sql):
    assert split(sql) is None


def test_an_error_is_placed_in_the_box_holding_its_quoted_part():
    parts = {"selected": "objects.ra", "tables": "objects, users", "conditions": "objects.ra > 1"}
    assert locate("table 'users' is not allowed", parts) == "tables"
    assert locate("something else", parts) is None


def test_a_filter_that_is_not_three_boxes_is_edited_in_one_sql_box(browser, web_engine,
                                                                    web_settings, unique_name):
    from skysift.accounts import get_user
    from skysift.filters.manage import add_filter

    b = browser()
    name = unique_name("one").replace("-", "_")
    b.signup(name)
    with web_engine.connect() as conn:
        user = get_user(conn, name)
    sql = "-- my note\nSELECT objects.ra FROM objects WHERE objects.ra > 1"
    flt = add_filter(web_engine, web_settings, user, name="noted", sql=sql)
    page = b.get(f"/filters/{flt.id}/edit").text
    assert 'name="sql"' in page and 'name="selected"' not in page and "-- my note" in page
    r = b.submit(f"/filters/{flt.id}/edit", {"mode": "sql", "sql": sql + " AND objects.ra < 2",
                                             "action": "save", "name": "noted"},
                 form_page=f"/filters/{flt.id}/edit")
    assert r.status_code == 303
