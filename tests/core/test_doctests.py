"""Every doctest in src/skysift runs: pytest collects tests only from tests/, so the examples in
the package's docstrings are run here, module by module, and their number is checked so that a
change in discovery cannot silently run none."""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest

import skysift

SRC = Path(skysift.__file__).resolve().parent

# Modules that must not be imported here: ``python -m skysift`` runs the CLI at import, and
# alembic's migration scripts (``env.py`` runs the migrations at import; the versions need
# alembic's migration context). None of them has a doctest.
NOT_IMPORTED = ("skysift.__main__", "skysift.store.migrations")

# The package has 111 examples; fewer than this means the finder or the module list broke.
MIN_EXAMPLES = 100


def _module_names() -> list[str]:
    names = []
    for path in SRC.rglob("*.py"):
        parts = ("skysift", *path.relative_to(SRC).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not name.startswith(NOT_IMPORTED):
            names.append(name)
    return sorted(names)


def _run_doctests(name: str) -> tuple[int, int, str]:
    """(failed, attempted, report) for the doctests of module ``name``."""
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(verbose=False)
    out = io.StringIO()
    for test in finder.find(module, name):
        runner.run(test, out=out.write)
    failed, attempted = runner.summarize(verbose=False)
    return failed, attempted, out.getvalue()


MODULES = _module_names()


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests_pass(name):
    failed, _attempted, report = _run_doctests(name)
    assert failed == 0, report


def test_the_doctests_are_found():
    total = sum(_run_doctests(name)[1] for name in MODULES)
    print(f"{total} doctest examples in {len(MODULES)} modules")
    assert total >= MIN_EXAMPLES, f"only {total} doctest examples found"
