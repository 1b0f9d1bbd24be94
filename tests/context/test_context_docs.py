"""docs/filters.md documents every context column, and its context examples are valid filters
that compile for both engines."""

from __future__ import annotations

import re
from pathlib import Path

from skysift.filters.catalogue import catalogue_with
from skysift.context.tables import CONTEXT_TABLES, UNITS, markdown_tables
from skysift.filters.compile import check_compiles
from skysift.filters.validate import validate_filter

DOC = Path(__file__).resolve().parents[2] / "docs" / "filters.md"


def test_the_column_block_of_the_docs_is_generated_from_the_catalogue():
    text = DOC.read_text()
    block = text.split("<!-- context-columns:start -->\n", 1)[1].split(
        "<!-- context-columns:end -->", 1)[0]
    assert block == markdown_tables()
    assert all(set(UNITS[t]) == set(cols) for t, cols in CONTEXT_TABLES.items())


def test_every_sql_example_of_the_context_section_validates_and_compiles():
    section = DOC.read_text().split("## Context tables", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    examples = [e.strip() for b in blocks for e in re.split(r"\n\s*\n", b) if e.strip()]
    assert len(examples) == 3
    cat = catalogue_with(frozenset(), frozenset({3}), frozenset({1, 2}))
    for example in examples:
        sql = "\n".join(line for line in example.splitlines() if not line.startswith("--"))
        check_compiles(validate_filter(sql, cat))
