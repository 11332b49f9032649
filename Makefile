# Two commands do all the set-up: `make demo` and `make test`. Both create .venv on first use
# and reuse it afterwards (reinstalling only when pyproject.toml changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test fuzz lint clean-demo sclite chromium ink-data tesseract

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP) sclite chromium ink-data tesseract
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

# Tesseract OCR with its English model (Debian's tesseract-ocr and tesseract-ocr-eng), which
# reads the line images of scripts/bench_ocr_peers.py in tests/test_bench_ocr_peers.py: installed
# the same way (those tests skip without it, or fail under CI=true).
tesseract:
	@command -v tesseract >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null 2>&1; }; }; } || true

# The handwriting fonts and the English texts of the synthetic ink corpus (scripts/synth_hands.py,
# lstmrec.corpora.ink_hands lists each font's package and licence), from Debian: installed the
# same way (the tests that trace them skip without them, or fail under CI=true).
INK_PACKAGES := fonts-breip fonts-comic-neue fonts-dancingscript fonts-dkg-handwriting \
  fonts-kaushanscript fonts-klee fonts-kristi fonts-rufscript fonts-sil-andika fonts-sjfonts fortunes
ink-data:
	@[ -f /usr/share/games/fortunes/fortunes ] && [ -d /usr/share/fonts/truetype/sjfonts ] && \
	  [ -d /usr/share/fonts/truetype/kristi ] || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(INK_PACKAGES) >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(INK_PACKAGES) >/dev/null 2>&1; }; }; } || true

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
