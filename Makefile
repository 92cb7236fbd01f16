# Agora: two commands do everything on a fresh machine with Python 3.11.
#   make run   - create .venv, install, migrate, serve on http://127.0.0.1:8000 (embedded defaults)
#   make test  - create .venv, install, run the whole test suite (SQLite, in-process jobs)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-pg lint fuzz bench install clean demo

$(BIN)/agora: setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	@touch $(BIN)/agora

install: $(BIN)/agora

run: install
	$(BIN)/agora db upgrade
	AGORA_HOST=$(HOST) AGORA_PORT=$(PORT) $(BIN)/agora serve

demo: install
	$(BIN)/agora db upgrade
	$(BIN)/agora demo

test: install
	$(BIN)/pytest -n auto tests

# the same suite against PostgreSQL and Redis (what .ci/run does after `make test`)
test-pg: install
	AGORA_TEST_DATABASE_URL=$(PG_URL) AGORA_TEST_REDIS_URL=$(REDIS_URL) $(BIN)/pytest tests

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

fuzz: install
	AGORA_FUZZ=1 $(BIN)/pytest tests/fuzz -p no:xdist

# the benchmarks wipe the PostgreSQL database they are pointed at (AGORA_BENCH_DATABASE_URL; wallet: its own schemas)
bench: install
	psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='agora_bench'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE agora_bench"
	$(BIN)/python bench/wallet.py
	$(BIN)/python bench/workflow.py
	$(BIN)/python bench/dispatch.py

clean:
	rm -rf $(VENV) var *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
