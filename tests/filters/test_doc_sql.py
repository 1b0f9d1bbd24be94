"""Every filter SQL example of the documentation (docs/*.md and README.md) is a filter the product
accepts: validated with the product's validator against the product's catalogue, and compiled
for both engines. A failure names the file and line of the example.

What counts as an example:

- every statement of every ```sql block (a block right after ``<!-- refused -->`` shows SQL that
  is refused on purpose: it must be refused);
- an inline code span that is a whole filter (``SELECT ... FROM objects ...``, no placeholders);
- the SQL of a command or request: ``--sql "..."`` and JSON ``"sql": "..."``;
- an ``/api/query/`` URL: its ``selected``, ``tables`` and ``conditions``, joined as the API does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from skysift.filters.catalogue import catalogue_with
from skysift.errors import FilterError
from skysift.filters.compile import check_compiles
from skysift.filters.validate import validate_filter
from skysift.web.api.query import build_sql

ROOT = Path(__file__).resolve().parents[2]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
#: The annotators the documentation's examples join (annotators are tables once they exist).
DOC_ANNOTATORS = frozenset({"fruitbat", "bobcat"})

_BLOCK = re.compile(r"(?:<!--\s*(?P<mark>[\w -]+?)\s*-->\s*\n)?```sql\n(?P<body>.*?)```", re.S)
_FENCE = re.compile(r"```.*?```", re.S)
_INLINE = re.compile(r"`(?P<sql>SELECT\s[^`]*?\bFROM\s+objects\b[^`]*)`", re.I)
_SQL_ARG = re.compile(r"--sql\s+\"(?P<sql>[^\"]+)\"")
_SQL_JSON = re.compile(r"\"sql\"\s*:\s*\"(?P<sql>(?:[^\"\\]|\\.)*)\"")
_QUERY_URL = re.compile(r"/api/query/\?(?P<query>[^\s\"'`)]+)")


@dataclass(frozen=True)
class Example:
    where: str  # docs/filters.md:7
    sql: str
    refused: bool = False


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _statements(body: str, first_line: int) -> list[tuple[int, str]]:
    """(line, statement) of a ```sql block: each statement starts at a line beginning with
    SELECT (the lines of comments just before it belong to it)."""
    chunks: list[tuple[int, list[str]]] = [(first_line, [])]
    for n, line in enumerate(body.splitlines(), start=first_line):
        current = chunks[-1][1]
        if re.match(r"\s*SELECT\b", line, re.I) and any(
                re.match(r"\s*SELECT\b", x, re.I) for x in current):
            comments: list[str] = []
            while current and current[-1].lstrip().startswith("--"):
                comments.insert(0, current.pop())
            chunks.append((n - len(comments), comments))
        chunks[-1][1].append(line)
    out = []
    for start, lines in chunks:
        while lines and not lines[0].strip():  # a block's blank lines: the line of the SQL
            lines.pop(0)
            start += 1
        if "".join(lines).strip():
            out.append((start, "\n".join(lines).strip()))
    return out


def doc_examples(path: Path, root: Path = ROOT) -> list[Example]:
    """The examples of one page, each named by its path under ``root`` and its line."""
    text = path.read_text(encoding="utf-8")
    name = path.relative_to(root).as_posix()
    out = []
    for m in _BLOCK.finditer(text):
        refused = (m.group("mark") or "").strip() == "refused"
        for line, sql in _statements(m.group("body"), _line(text, m.start("body"))):
            out.append(Example(f"{name}:{line}", sql, refused))
    outside = _FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)  # same offsets
    for m in _INLINE.finditer(outside):
        sql = " ".join(m.group("sql").split())
        if "..." not in sql and "<" not in sql:  # a template, not an example
            out.append(Example(f"{name}:{_line(text, m.start())}", sql))
    for m in _SQL_ARG.finditer(text):
        out.append(Example(f"{name}:{_line(text, m.start())}", m.group("sql")))
    for m in _SQL_JSON.finditer(text):
        out.append(Example(f"{name}:{_line(text, m.start())}", json.loads(f'"{m.group("sql")}"')))
    for m in _QUERY_URL.finditer(text):
        query = {k: v[0] for k, v in parse_qs(urlsplit("?" + m.group("query")).query).items()}
        sql = build_sql(query["selected"], query.get("tables", "objects"),
                        query.get("conditions", ""))
        out.append(Example(f"{name}:{_line(text, m.start())}", sql))
    return sorted(out, key=lambda e: (e.where.split(":")[0], int(e.where.split(":")[1])))


EXAMPLES = [e for path in DOCS for e in doc_examples(path)]


@pytest.fixture(scope="module")
def doc_catalogue():
    """The product's catalogue for a user who may read the annotators the docs name."""
    return catalogue_with(DOC_ANNOTATORS)


def test_the_docs_have_sql_examples():
    """The extraction finds the examples (a change of format must not silence this test)."""
    files = [e.where.split(":")[0] for e in EXAMPLES]
    assert files.count("docs/filters.md") >= 4
    assert {"docs/annotations.md", "docs/api.md", "README.md"} <= set(files)
    assert any(e.where == "docs/filters.md:7" for e in EXAMPLES), "the first filters.md example"


def check(example: Example, catalogue) -> None:
    """Fail, naming the file and line, unless the product treats the example as documented."""
    error = None
    try:
        check_compiles(validate_filter(example.sql, catalogue, name=example.where))
    except FilterError as exc:
        error = exc
    if error is not None and not example.refused:
        pytest.fail(f"{example.where}: the documented filter is refused: {error.message}\n"
                    f"{example.sql}", pytrace=False)
    if error is None and example.refused:
        pytest.fail(f"{example.where}: marked <!-- refused --> but accepted\n{example.sql}",
                    pytrace=False)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_doc_example_is_accepted_by_the_product(example, doc_catalogue):
    check(example, doc_catalogue)


def test_a_refused_example_fails_naming_its_file_and_line(tmp_path, doc_catalogue):
    """What the test above reports for a page whose first example is refused (as the first
    example of docs/filters.md once was), and for a refused-on-purpose block that validates."""
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    page.write_text("# Page\n\n```sql\n-- a comment\nSELECT objects.diaObjectId\n"
                    "FROM objects, users\n```\n\nText `SELECT objects.ra FROM objects, sources`."
                    "\n\n<!-- refused -->\n```sql\nSELECT objects.diaObjectId FROM objects\n```\n")
    examples = doc_examples(page, root=tmp_path)
    assert [(e.where, e.refused) for e in examples] == [
        ("docs/page.md:4", False), ("docs/page.md:9", False), ("docs/page.md:13", True)]
    messages = []
    for example in examples:
        with pytest.raises(pytest.fail.Exception) as info:
            check(example, doc_catalogue)
        messages.append(str(info.value).splitlines()[0])
    assert messages == [
        "docs/page.md:4: the documented filter is refused: table 'users' is not allowed",
        "docs/page.md:9: the documented filter is refused: table 'sources' is not allowed",
        "docs/page.md:13: marked <!-- refused --> but accepted",
    ]
