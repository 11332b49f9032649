# Two commands do all the set-up: `make demo` and `make test`. Both create .venv on first use
# and reuse it afterwards (reinstalling only when pyproject.toml changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test fuzz lint clean-demo sclite chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP) sclite chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# NIST sclite (Debian's sctk), which a test runs on our CTM and STM output: installed when
# missing and we are root with apt; otherwise nothing happens (that test then skips, or fails
# under CI=true).
sclite:
	@command -v sclite >/dev/null 2>&1 || command -v sctk >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sctk >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sctk >/dev/null 2>&1; }; }; } || true

# Headless Chromium and its WebDriver (Debian's chromium and chromium-driver), in which a test
# drives the page of `lstmrec serve`: installed the same way (that test skips without them, or
# fails under CI=true).
chromium:
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; }; }; } || true

# The long runs (docs/robustness.md): the fuzzing of every file reader (tests/test_fuzz.py, about
# 6 minutes) and training killed at every one of its file writes and renames (about 15 minutes).
fuzz: $(STAMP)
	LSTMREC_FUZZ=long $(BIN)/python -m pytest -q -p no:cacheprovider --hypothesis-show-statistics tests/test_fuzz.py
	LSTMREC_FAULT_POINTS=all $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_resume_faults.py

lint: $(STAMP)
	$(BIN)/ruff check features models pipeline scripts tests

demo: $(STAMP)
	bash scripts/demo.sh

clean-demo:
	rm -rf runs/demo
