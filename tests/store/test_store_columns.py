"""The column catalogue, the objects table and docs/filters.md agree."""

from __future__ import annotations

import json
from pathlib import Path

from lsst.alert import packet

from skysift.store.columns import (
    BEGIN_MARKER,
    BOOKKEEPING_COLUMNS,
    COLUMNS,
    DIAOBJECT_COLUMNS,
    END_MARKER,
    filter_catalogue,
    main,
    markdown_table,
    replace_block,
)
from skysift.store.schema import objects

DOC = Path(__file__).resolve().parents[2] / "docs" / "filters.md"
NEWEST_DIAOBJECT = (Path(packet.__file__).parent / "schema" / "11" / "1"
                    / "lsst.v11_1.diaObject.avsc")


def _doc_block() -> str:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN_MARKER in text and END_MARKER in text, "docs/filters.md lost its column markers"
    return text.split(BEGIN_MARKER, 1)[1].split(END_MARKER, 1)[0]


def test_every_objects_column_is_documented_in_filters_md():
    block = _doc_block()
    filterable = [c.name for c in objects.columns if c.name not in BOOKKEEPING_COLUMNS]
    missing = [name for name in filterable if f"| `{name}` |" not in block]
    assert missing == [], f"run python -m skysift.store.columns --write docs/filters.md: {missing}"


def test_filters_md_block_is_the_generated_table():
    assert _doc_block() == "\n" + markdown_table()


def test_catalogue_is_the_objects_table_minus_bookkeeping():
    table = [c.name for c in objects.columns]
    assert table == [c.name for c in COLUMNS] + list(BOOKKEEPING_COLUMNS)
    assert list(filter_catalogue()) == ["objects"]
    assert list(filter_catalogue()["objects"]) == [c.name for c in COLUMNS]
    assert len({c.name for c in COLUMNS}) == len(COLUMNS)
    for doc in COLUMNS:
        sql_type = objects.c[doc.name].type.python_type
        assert {"int": int, "float": float, "text": str}[doc.type] is sql_type, doc.name


def test_copied_columns_exist_in_newest_dia_object_schema():
    fields = {f["name"] for f in json.loads(NEWEST_DIAOBJECT.read_text())["fields"]}
    assert {c.name for c in DIAOBJECT_COLUMNS} <= fields
    # and every diaObject field is either copied or superseded by a computed column
    superseded = {"diaObjectId", "ra", "dec", "firstDiaSourceMjdTai", "lastDiaSourceMjdTai",
                  "nDiaSources"} | {f for f in fields if f.endswith(("_psfFluxMean",
                                                                     "_psfFluxMeanErr"))}
    assert fields - superseded == {c.name for c in DIAOBJECT_COLUMNS}


def test_replace_block_touches_nothing_outside_the_markers(tmp_path):
    path = tmp_path / "filters.md"
    path.write_text(f"# Filters\nintro\n{BEGIN_MARKER}\nSTALE-TABLE\n{END_MARKER}\nafter\n")
    assert main(["--write", str(path)]) == 0
    text = path.read_text()
    assert text.startswith("# Filters\nintro\n" + BEGIN_MARKER + "\n")
    assert text.endswith(END_MARKER + "\nafter\n")
    assert "STALE-TABLE" not in text and "| `glat` |" in text
    assert replace_block("", "T\n") == f"{BEGIN_MARKER}\nT\n{END_MARKER}\n"
