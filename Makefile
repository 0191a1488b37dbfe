# The two commands: `make demo` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOCK := requirements.lock
# The flags `make lock` passes to pip-compile (also recorded in the lock's header).
LOCK_FLAGS := --generate-hashes --allow-unsafe --extra dev --strip-extras --build-deps-for editable \
	--no-emit-index-url --no-emit-find-links
AUDIT_TIMEOUT ?= 120

.PHONY: install lock audit-deps demo test test-sqlite serve lint bench clean mutation

# Every dependency, transitive ones and the build backend included, comes from the lock and must match
# one of its hashes; Carnet itself is then installed without resolving anything.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

## make lock: regenerate requirements.lock (hashes for every dependency) from pyproject.toml
lock:
	$(BIN)/pip-compile $(LOCK_FLAGS) --output-file=$(LOCK) pyproject.toml

## make audit-deps: known vulnerabilities in the locked dependencies (needs a vulnerability database; not in make test)
audit-deps:
	timeout --foreground $(AUDIT_TIMEOUT) $(BIN)/pip-audit --disable-pip --require-hashes --strict \
		--timeout 20 --progress-spinner off -r $(LOCK) \
	|| { status=$$?; echo "make audit-deps: pip-audit failed (exit $$status; 124 = no answer within $(AUDIT_TIMEOUT) s): every locked package must be audited (--strict): is a vulnerability database (PyPI/OSV) reachable?" >&2; exit $$status; }

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
