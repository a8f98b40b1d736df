# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-oldest lint typecheck bench docs clean

# The runtime dependencies at the versions the actions install (actions/constraints.txt), so
# the tests run against exactly what a deploy runs; uv because it installs in seconds.
$(BIN)/commit-train: pyproject.toml actions/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -c actions/constraints.txt -e '.[test]'
	touch $@

demo: $(BIN)/commit-train
	$(BIN)/commit-train demo

lint: $(BIN)/commit-train
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(BIN)/commit-train
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -n 2

# The same checks on the oldest Python the project supports (requires-python >= 3.11): Debian
# 12's /usr/bin/python3 is 3.11.2, older than the stdlib additions of 3.11.4 (tarfile's
# extraction filters, say). A venv of its own, so the two never mix; needs python3-venv there.
OLDEST_PYTHON ?= /usr/bin/python3
test-oldest:
	$(MAKE) test PYTHON=$(OLDEST_PYTHON) VENV=.venv-oldest

# Each benchmark prints its own table; docs/benchmarks.md records the results.
bench: $(BIN)/commit-train
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/github_status.py
	$(BIN)/python bench/render.py --objects 1000

clean:
	rm -rf $(VENV) .venv-oldest .pytest_cache .mypy_cache .ruff_cache
