# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck bench docs clean

$(BIN)/commit-train: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(BIN)/commit-train
	$(BIN)/commit-train demo

lint: $(BIN)/commit-train
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/commit-train
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -n 2

# Each benchmark prints its own table; docs/benchmarks.md records the results.
bench: $(BIN)/commit-train
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/github_status.py
	$(BIN)/python bench/render.py --objects 1000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
