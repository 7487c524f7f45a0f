# Tokenomy — set-up and main jobs. `make run` serves; `make test` checks everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.stamp-run
STAMP_TEST := $(VENV)/.stamp-test

PG_INITDB  := /usr/lib/postgresql/*/bin/initdb

.PHONY: run test lint typecheck pytest bench clean postgresql chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP_RUN) $@

# The gateway on the embedded SQLite default, with the upstream simulator and a demo key.
run: $(STAMP_RUN)
	$(BIN)/tokenomy serve --demo

lint: $(STAMP_TEST)
	$(BIN)/ruff check src tests bench scripts

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

# The PostgreSQL ledger tests start their own throwaway server from the Debian package's
# binaries; install them once when missing (the tests fail in CI without them).
postgresql:
	@if ! ls $(PG_INITDB) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; \
	  else \
	    echo "PostgreSQL server binaries missing: apt-get install postgresql (as root)"; \
	  fi; \
	fi

# The dashboard's browser tests drive Debian's Chromium through Playwright (never a downloaded
# browser); install it once when missing (the tests skip, saying so, without it).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	  else \
	    echo "Chromium missing: apt-get install chromium (as root)"; \
	  fi; \
	fi

pytest: $(STAMP_TEST) postgresql chromium
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP_TEST) postgresql
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/meter.py
	$(BIN)/python bench/pricing.py
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/x402.py
	$(BIN)/python bench/exchange.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
