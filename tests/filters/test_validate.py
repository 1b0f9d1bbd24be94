"""validate_filter against the product's catalogue (the ``catalogue`` fixture): what is accepted,
how names resolve, what the validated filter knows."""

from __future__ import annotations

import pytest
from sqlglot import exp

from skysift.errors import FilterRejected, FilterSyntaxError
from skysift.filters.catalogue import Catalogue
from skysift.filters.validate import HIDDEN_KEY, ValidatedFilter, validate_filter
from skysift.store.columns import COLUMNS


def test_simple_filter_knows_columns_tables_and_key(catalogue):
    vf = validate_filter(
        "SELECT objects.diaObjectId, objects.ra, flux2mag(objects.g_psfFlux) AS gmag "
        "FROM objects WHERE objects.nDiaSources > 3", catalogue, name="mine")
    assert isinstance(vf, ValidatedFilter)
    assert vf.columns == ("diaObjectId", "ra", "gmag")
    assert vf.tables == ("objects",)
    assert vf.key_output == "diaObjectId" and vf.selects_key and vf.result_key == "diaObjectId"
    assert vf.name == "mine"
    assert vf.sql.startswith("SELECT objects.diaObjectId")
    assert isinstance(vf.ast, exp.Select)


def test_bare_columns_are_qualified_with_the_catalogue_spelling(catalogue):
    vf = validate_filter(
        "SELECT DIAOBJECTID, g_psfflux FROM objects WHERE ndiasources > 1", catalogue
    )
    assert vf.columns == ("diaObjectId", "g_psfFlux")
    text = vf.canonical_sql()
    assert "`objects`.`nDiaSources` > 1" in text
    assert "`objects`.`g_psfFlux`" in text


def test_key_not_selected_means_hidden_key(catalogue):
    vf = validate_filter("SELECT ra, decl FROM objects", catalogue)
    assert vf.key_output is None and not vf.selects_key
    assert vf.result_key == HIDDEN_KEY == "__diaObjectId"


def test_key_under_another_name_still_gets_the_hidden_key(catalogue):
    vf = validate_filter("SELECT objects.diaObjectId AS id FROM objects", catalogue)
    assert vf.columns == ("id",)
    assert vf.key_output is None


def test_expression_needs_an_alias(catalogue):
    with pytest.raises(FilterRejected,
                       match=r"expression 'FLUX2MAG\(objects.g_psfFlux\)' needs a name"):
        validate_filter("SELECT flux2mag(objects.g_psfFlux) FROM objects", catalogue)


def test_select_star_expands_to_every_documented_objects_column(catalogue):
    vf = validate_filter("SELECT * FROM objects", catalogue)
    assert vf.columns == catalogue.columns("objects") == tuple(c.name for c in COLUMNS)


def test_table_star_with_a_join(catalogue):
    vf = validate_filter(
        "SELECT objects.*, watchlist_hits.name FROM objects, watchlist_hits", catalogue)
    assert vf.columns == (*catalogue.columns("objects"), "name")
    assert vf.tables == ("objects", "watchlist_hits")


def test_star_with_several_tables_is_rejected(catalogue):
    with pytest.raises(FilterRejected, match=r"SELECT \* is not allowed with several tables"):
        validate_filter("SELECT * FROM objects, watchlist_hits", catalogue)


def test_double_quoted_text_is_a_string_and_backticks_are_names(catalogue):
    vf = validate_filter(
        'SELECT `diaObjectId` FROM `objects` WHERE `tns_name` = "SN 2026abc"', catalogue
    )
    literal = vf.ast.find(exp.Literal)
    assert literal.is_string and literal.this == "SN 2026abc"


def test_comments_are_accepted_and_removed(catalogue):
    vf = validate_filter(
        "SELECT diaObjectId -- the key\nFROM objects /* all of them */ WHERE ra > 1 # hash\n",
        catalogue,
    )
    assert all(not node.comments for node in vf.ast.walk())
    assert "key" not in vf.canonical_sql() and "/*" not in vf.canonical_sql()


def test_one_trailing_semicolon_is_fine(catalogue):
    assert validate_filter("SELECT diaObjectId FROM objects;", catalogue).columns == (
        "diaObjectId",
    )


def test_comma_tables_with_diaobjectid_are_joined_on_it(catalogue):
    vf = validate_filter(
        "SELECT objects.diaObjectId, w.name FROM objects, watchlist_hits AS w "
        "WHERE w.name = 'SN' OR objects.ra < 3", catalogue)
    text = vf.canonical_sql()
    assert ("WHERE (`w`.`name` = 'SN' OR `objects`.`ra` < 3) "
            "AND `objects`.`diaObjectId` = `w`.`diaObjectId`") in text


def test_join_without_on_is_a_comma(catalogue):
    vf = validate_filter("SELECT objects.diaObjectId FROM objects JOIN watchlist_hits", catalogue)
    assert vf.canonical_sql().endswith(
        "WHERE `objects`.`diaObjectId` = `watchlist_hits`.`diaObjectId`")


def test_keyless_tables_are_joined_on_their_join_key(catalogue):
    """crossmatch_tns joins objects on tns_name, gw_events joins gw_hits on superevent_id."""
    tns = validate_filter(
        "SELECT objects.diaObjectId, crossmatch_tns.type FROM objects, crossmatch_tns "
        "WHERE crossmatch_tns.type = 'SN II'", catalogue)
    assert tns.canonical_sql().endswith(
        "WHERE `crossmatch_tns`.`type` = 'SN II' "
        "AND `crossmatch_tns`.`tns_name` = `objects`.`tns_name`")
    gw = validate_filter(
        "SELECT objects.diaObjectId, gw_events.HasNS FROM objects, gw_hits, gw_events", catalogue)
    assert gw.canonical_sql().endswith(
        "WHERE `objects`.`diaObjectId` = `gw_hits`.`diaObjectId` "
        "AND `gw_events`.`superevent_id` = `gw_hits`.`superevent_id`")


def test_explicit_joins_are_not_joined_for_you(catalogue):
    left = validate_filter(
        "SELECT objects.diaObjectId FROM objects LEFT JOIN watchlist_hits "
        "ON objects.diaObjectId = watchlist_hits.diaObjectId", catalogue)
    assert left.ast.args.get("where") is None
    tns = validate_filter(
        "SELECT objects.diaObjectId, crossmatch_tns.type FROM objects LEFT JOIN crossmatch_tns "
        "ON objects.ra > crossmatch_tns.ra", catalogue)
    assert tns.ast.args.get("where") is None


def test_order_by_alias_and_position_become_the_expression(catalogue):
    vf = validate_filter(
        "SELECT diaObjectId, flux2mag(g_psfFlux) AS gmag FROM objects ORDER BY gmag DESC, 1",
        catalogue,
    )
    order = vf.ast.args["order"].expressions
    assert (
        order[0].this.sql(dialect="mysql") == "FLUX2MAG(`objects`.`g_psfFlux`)"
        and order[0].args["desc"]
    )
    assert order[1].this.sql(dialect="mysql") == "`objects`.`diaObjectId`"


def test_order_by_position_out_of_range(catalogue):
    with pytest.raises(FilterRejected, match=r"ORDER BY 3: there are 1 output columns"):
        validate_filter("SELECT diaObjectId FROM objects ORDER BY 3", catalogue)


@pytest.mark.parametrize("sql, canonical", [
    ("LOG(g_psfFlux)", "LN("),
    ("LN(g_psfFlux)", "LN("),
    ("LOG10(g_psfFlux)", "LOG10("),
    ("LOG(10, g_psfFlux)", "LOG10("),
    ("LOG(2, g_psfFlux)", "LOG(2, "),
    ("POW(g_psfFlux, 2)", "POWER("),
    ("CEILING(g_psfFlux)", "CEIL("),
    ("IFNULL(g_psfFlux, 0)", "COALESCE("),
    ("GREATEST(g_psfFlux, r_psfFlux)", "GREATEST("),
    ("ROUND(ra, 2)", "ROUND("),
])
def test_functions_get_one_canonical_spelling(catalogue, sql, canonical):
    vf = validate_filter(f"SELECT {sql} AS x FROM objects", catalogue)
    assert canonical in vf.canonical_sql()


def test_wrong_number_of_arguments(catalogue):
    with pytest.raises(FilterRejected, match=r"function 'flux2mag' takes 1 argument\(s\), not 2"):
        validate_filter("SELECT flux2mag(g_psfFlux, 1) AS m FROM objects", catalogue)
    with pytest.raises(FilterRejected, match=r"function 'greatest' takes 2 or more"):
        validate_filter("SELECT GREATEST(ra) AS m FROM objects", catalogue)


def test_the_operators_and_forms_users_write(catalogue):
    vf = validate_filter(
        "SELECT DISTINCT objects.diaObjectId, CASE WHEN ra > 180 THEN 'east' ELSE 'west' END "
        "AS side, IF(nDiaSources > 3, 1, 0) AS many, nPosDiaSources DIV 2 AS half "
        "FROM objects WHERE (ra BETWEEN 10 AND 20 OR decl IN (1, 2, 3)) AND NOT tns_name IS NULL "
        "AND tns_name NOT LIKE 'AT%' AND latestR >= 0.5 AND -glat < 30 AND ra <=> decl IS NOT TRUE "
        "AND mjdnow() - lastDiaSourceMjdTai < 10 / 2 * 1.5 + 1 - 0.5 ORDER BY ra ASC, decl DESC",
        catalogue)
    assert vf.columns == ("diaObjectId", "side", "many", "half")


def test_table_aliases(catalogue):
    vf = validate_filter("SELECT o.diaObjectId, o.ra FROM objects AS o WHERE o.ra > 1", catalogue)
    assert vf.objects_ref == "o" and vf.key_output == "diaObjectId"


@pytest.mark.parametrize("sql, message", [
    ("SELECT diaObjectId FROM objects, watchlist_hits",
     "column 'diaObjectId' is ambiguous: write objects.diaObjectId or watchlist_hits.diaObjectId"),
    ("SELECT ra FROM crossmatch_tns", "a filter must read FROM objects"),
    ("SELECT ra AS a, decl AS a FROM objects", "output column 'a' appears twice"),
    ("SELECT ra AS __diaObjectId FROM objects",
     "column name '__diaObjectId' may not start with '__'"),
    ("SELECT ra AS " + "x" * 64 + " FROM objects", "must be letters, digits and _ (at most 63)"),
    ("SELECT a.ra FROM objects AS a, watchlist_hits AS a", "table 'a' appears twice"),
    ("SELECT diaObjectId FROM objects WHERE ra > 1 GROUP BY ra", "GROUP BY is not allowed"),
    ("SELECT diaObjectId FROM objects HAVING ra > 1", "HAVING is not allowed"),
    ("SELECT diaObjectId FROM objects LIMIT 10", "LIMIT/OFFSET: use the limit parameter"),
    ("SELECT diaObjectId FROM objects LIMIT 10 OFFSET 5", "LIMIT/OFFSET: use the limit parameter"),
    ("SELECT COUNT(*) AS n FROM objects", "aggregate function 'count' is not allowed"),
    ("SELECT MAX(ra) AS n FROM objects", "aggregate function 'max' is not allowed"),
    ("SELECT diaObjectId FROM objects WHERE CAST(ra AS CHAR) = '1'",
     "function 'cast' is not allowed"),
    ("SELECT objects.diaObjectId FROM objects JOIN watchlist_hits USING (diaObjectId)",
     "USING is not allowed"),
    ("SELECT objects.diaObjectId FROM objects RIGHT JOIN watchlist_hits ON 1 = 1",
     "RIGHT JOIN is not allowed"),
    ("SELECT ra FROM objects WHERE ra > 1 AND password_hash = 'x'",
     "column 'password_hash' does not exist"),
    ("SELECT SIN(ra) AS s FROM objects", "function 'sin' is not allowed"),
])
def test_rejections_name_the_offending_part(catalogue, sql, message):
    with pytest.raises(FilterRejected) as info:
        validate_filter(sql, catalogue, name="f")
    assert message in str(info.value)
    assert info.value.filter == "f"


@pytest.mark.parametrize("sql, near", [
    ("SELECT diaObjectId FROM objects WHERE ra >", None),
    ("SELECT diaObjectId FROM objects WHERE ra > 1 AND AND decl < 2", None),
    ("SELECT diaObjectId FROM objects WHERE (ra > 1", None),
])
def test_syntax_errors(catalogue, sql, near):
    with pytest.raises(FilterSyntaxError) as info:
        validate_filter(sql, catalogue, name="broken")
    assert "does not parse" in str(info.value) and info.value.filter == "broken"


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment"])
def test_empty_filters(catalogue, sql):
    with pytest.raises(FilterSyntaxError, match="empty"):
        validate_filter(sql, catalogue)


def test_too_long_or_too_deep(catalogue):
    with pytest.raises(FilterRejected, match="longer than"):
        validate_filter(
            "SELECT diaObjectId FROM objects WHERE " + " OR ".join(["ra > 1"] * 5000), catalogue
        )
    deep = "SELECT diaObjectId FROM objects WHERE " + "(" * 3000 + "ra > 1" + ")" * 3000
    with pytest.raises(FilterRejected, match="too deeply nested"):
        validate_filter(deep, catalogue)


def test_catalogue_is_frozen_and_checks_types():
    cat = Catalogue({"objects": {"diaObjectId": "int", "ra": "float"}})
    assert cat.has("objects", "ra") and not cat.has("objects", "RA") and not cat.has("users", "ra")
    with pytest.raises(TypeError):
        cat.tables["objects"]["x"] = "int"  # type: ignore[index]
    with pytest.raises(AttributeError):
        cat.tables = {}  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown type"):
        Catalogue({"objects": {"ra": "double"}})
