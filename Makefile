# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PORT ?= 5000
export FLASK_APP := council

.PHONY: run test check setup test-setup translations migrate demo bench bench-ci scale audit attack mutate extract-messages clean

# `make run` installs what serving needs; `make test` and the benchmarks add the test tools. PYTHONWARNINGS
# keeps setuptools' notice about editable installs (a boxed "!!", harmless) out of a newcomer's first run.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore $(BIN)/pip install --quiet -c constraints.txt -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	PYTHONWARNINGS=ignore $(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(TEST_STAMP)

translations: $(STAMP)
	$(BIN)/pybabel compile -d translations

setup: $(STAMP) translations

test-setup: $(TEST_STAMP) translations

migrate: setup
	COUNCIL_ENVIRONMENT=$${COUNCIL_ENVIRONMENT:-development} $(BIN)/flask db upgrade

demo: migrate
	COUNCIL_ENVIRONMENT=$${COUNCIL_ENVIRONMENT:-development} $(BIN)/flask council demo --skip-if-not-empty

run: demo
	COUNCIL_ENVIRONMENT=$${COUNCIL_ENVIRONMENT:-development} $(BIN)/flask run --host 127.0.0.1 --port $(PORT)

# Lint, format and type checks (settings in pyproject.toml); `make test` runs them first.
check: test-setup
	$(BIN)/ruff check council tests
	$(BIN)/ruff format --check council tests
	$(BIN)/mypy

# The tests run on TEST_WORKERS processes (pytest-xdist; one per core by default, 0 for a single process),
# a test file whole on one worker.
TEST_WORKERS ?= auto
test: check
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Issue 17's attacks on unlinkability (tests/attack/): a council of 14 advisors watched by someone who
# holds the database; prints each attack's accuracy against chance. PostgreSQL's part starts its own
# server when the binaries are installed (or uses COUNCIL_TEST_DATABASE_URL).
attack: test-setup
	$(BIN)/pytest -q -p no:cacheprovider tests/attack $(PYTEST_ARGS)

# Issue 18's mutation testing (docs/mutation.md): mutmut mutates the modules that hold the security and
# money rules ([tool.mutmut] in pyproject.toml) and runs the unit and integration tests that reach each
# mutant, niced, MUTATE_CHILDREN at a time; then prints the score per module. A run starts afresh;
# MUTANTS='council.security.*' re-tests only those mutants of the last run (patterns, not globbed by the
# shell). A benchmark, not in CI.
MUTATE_CHILDREN ?= 1
mutate: test-setup
	$(BIN)/python -c 'import mutmut' 2>/dev/null || $(BIN)/pip install --quiet -c constraints.txt -e '.[test,mutate]'
	$(if $(MUTANTS),rm -f mutants/migrated.db,rm -rf mutants)
	set -f; COUNCIL_TEST_MIGRATED_SQLITE=$(CURDIR)/mutants/migrated.db nice $(BIN)/mutmut run --max-children $(MUTATE_CHILDREN) $(MUTANTS)
	$(BIN)/python -m tests.mutation

# Refresh the catalogs after adding strings; then translate every new entry in every locale.
extract-messages: $(STAMP)
	cp translations/messages.pot translations/messages.pot.old
	$(BIN)/pybabel extract --no-location --sort-output -F babel.cfg -k _l -k lazy_pgettext:1c,2 -o translations/messages.pot .
	$(BIN)/python translations/keep_notes.py
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i translations/messages.pot -d translations
	$(BIN)/python translations/fill_english.py

clean:
	rm -rf $(VENV) translations/*/LC_MESSAGES/*.mo

# Figures beside a bare Flask page (docs/design.md, "Performance budgets"), then the main pages under wrk
# (Locust when wrk is missing), each run just after a 5 kB reference page; BENCH_SECONDS per run (default 8).
# Fails only on an answer other than 2xx or a page over its query budget (tests/bench_budget.json).
bench: test-setup
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,bench]'
	$(BIN)/python -m tests.bench

# CI's short bench: only the main pages, 2 s per run, and their query budget.
bench-ci: test-setup
	$(BIN)/python -c 'import locust' 2>/dev/null || $(BIN)/pip install --quiet -c constraints.txt -e '.[test,bench]'
	BENCH_SHORT=1 $(BIN)/python -m tests.bench

# Two app servers sharing a temporary PostgreSQL and Redis under Locust (tests/load/scale.py).
# SCALE_ADVISORS and SCALE_SECONDS size the run; the tick runs every SCALE_TICK_SECONDS (default 10), and
# the run reports how long a comment waits in the mix before staff and other advisors can read it.
scale: test-setup
	$(BIN)/python -c 'import locust' 2>/dev/null || $(BIN)/pip install --quiet -c constraints.txt -e '.[test,bench]'
	$(BIN)/python -m tests.load.scale

# Scanners against the demo site served on 127.0.0.1: pip-audit, the Nu Html Checker, axe-core and
# wapiti (tests/audit/README.md). Fails on findings. AUDIT_ARGS passes options: --only html,a11y.
audit: test-setup
	$(BIN)/python -c 'import pip_audit' 2>/dev/null || $(BIN)/pip install --quiet -c constraints.txt -e '.[test,audit]'
	$(BIN)/python -m tests.audit $(AUDIT_ARGS)
