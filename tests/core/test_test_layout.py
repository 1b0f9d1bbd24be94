"""The tests' helper modules are found through the pytest configuration (``pythonpath`` of
[tool.pytest.ini_options] in pyproject.toml), never by editing ``sys.path`` in a test module."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
PYTHONPATH = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"][
    "ini_options"]["pythonpath"]


def _modules() -> list[Path]:
    return [p for p in TESTS.rglob("*.py") if "data" not in p.relative_to(TESTS).parts]


def _helpers() -> list[Path]:
    """Modules of tests/ that are neither tests nor conftests nor package files."""
    return [p for p in _modules() if not p.name.startswith("test_")
            and p.name not in ("conftest.py", "__init__.py")]


def test_no_test_module_edits_sys_path():
    edit = re.compile(r"\bsys\.path\.(insert|append|extend)\b|\bsys\.path\s*[+]?=")
    offenders = [str(p.relative_to(ROOT)) for p in _modules() if edit.search(p.read_text())]
    assert offenders == [], "use pythonpath in [tool.pytest.ini_options] instead"


def test_every_helper_folder_is_on_the_configured_pythonpath():
    folders = {p.parent.relative_to(ROOT).as_posix() for p in _helpers()}
    assert folders, "tests/ has helper modules (kafka_reading.py, rubin_alerts.py...)"
    assert sorted(folders - set(PYTHONPATH)) == []
    assert all((ROOT / entry).is_dir() for entry in PYTHONPATH), PYTHONPATH


def test_helper_module_names_are_unique():
    """One folder's helper cannot shadow another's: they share one import namespace."""
    names = [p.stem for p in _helpers()]
    assert len(names) == len(set(names)), sorted(names)
