# skysift: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench install install-test install-bench bytecode clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-bench: $(VENV)/.installed-bench

# skysift's own bytecode, written ahead: the editable install leaves it to the first import, which
# does not write it where PYTHONDONTWRITEBYTECODE is set (it was, where this was measured), so every
# `skysift` process compiled its ~110 modules again (~0.25 s of a 2 s start); incremental. Not
# the migrations: their folder goes into the wheel whole (package-data).
bytecode: install
	$(BIN)/python -m compileall -q -x '/migrations/' src >/dev/null

demo: install bytecode
	$(BIN)/skysift demo $(DEMO_ARGS)

# the gates: ruff (src, tests, benchmarks) and mypy (src; settings in pyproject.toml), any finding fails
lint: install-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

test: lint bytecode
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-bench bytecode
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
	find src tests benchmarks -name __pycache__ -prune -exec rm -rf {} +
