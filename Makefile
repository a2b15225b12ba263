# The Makefile targets are the project's interface: run, test, lint, bench.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SYSTEM := .lifecircle/.system-packages

.PHONY: run test lint bench fuzz install clean chaos

# Debian packages the suite drives for real (chromium, LibreOffice): system-packages.txt.
$(SYSTEM): system-packages.txt scripts/system-packages.sh
	@bash scripts/system-packages.sh system-packages.txt
	@mkdir -p $(dir $@) && touch $@

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(INSTALLED)

## Serve the API on 127.0.0.1:8000 with demo data (embedded PostgreSQL when none is configured).
run: $(INSTALLED)
	$(BIN)/lifecircle run

## The whole suite against real PostgreSQL and Redis (see tests/conftest.py for the URLs).
test: $(INSTALLED) $(SYSTEM)
	$(BIN)/python -m pytest

## The city-portal loss test at full size: 2,000 changes under faults, SIGKILLed workers;
## then 2,000 ballots while PostgreSQL stops, Redis restarts and a worker is SIGKILLed.
chaos: $(INSTALLED)
	LIFECIRCLE_CHAOS=1 $(BIN)/python -m pytest tests/integrations/city_portal/test_loss.py -q -s
	$(BIN)/python -m bench.chaos_votes

lint: $(INSTALLED)
	$(BIN)/ruff check src tests bench alembic
	$(BIN)/mypy src

## Benchmarks against the real stack; prints a table of figures next to same-run baselines.
bench: $(INSTALLED)
	$(BIN)/python -m bench

## Schemathesis at length: every phase, 100 cases per operation, as every role (about an hour).
fuzz: $(INSTALLED)
	LIFECIRCLE_FUZZ_ROLES=all LIFECIRCLE_FUZZ_EXAMPLES=100 \
		LIFECIRCLE_FUZZ_PHASES=examples,coverage,fuzzing,stateful \
		$(BIN)/python -m pytest tests/security/test_fuzz.py -v

clean:
	rm -rf $(VENV) .lifecircle .pytest_cache .mypy_cache .ruff_cache
