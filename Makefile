# The two commands: `make demo` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-sqlite serve lint bench clean mutation

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo: a fresh embedded store with 20,000 seeded people, an import with rejects, then the server
demo: install
	$(BIN)/carnet demo

## make test: the whole suite on SQLite, and on PostgreSQL when it is reachable
test: install
	$(BIN)/python tests/run.py

test-sqlite: install
	CARNET_TEST_POSTGRES=off $(BIN)/python tests/run.py

serve: install
	$(BIN)/carnet serve

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

## make mutation: mutation testing of the trust cores (not part of make test; minutes, both cores)
mutation: install
	$(BIN)/python scripts/mutation.py --survivors

bench: install
	$(BIN)/python benchmarks/import_rate.py

clean:
	rm -rf $(VENV) carnet-data
