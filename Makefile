# The two commands in README.md: `make serve` and `make test`. Both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test setup setup-test lint bench

$(BIN)/python:
	$(PY) -m venv $(VENV)

setup: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .

setup-test: $(BIN)/python /usr/bin/virtuoso-t /usr/bin/wrk /usr/bin/chromium /usr/bin/chromedriver
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'

# Debian packages, installed once (as root) when missing. Virtuoso for the backend tests
# (tests/backends/): the -bin package only, not virtuoso-opensource-7, whose postinst starts a
# system-wide server. wrk drives the HTTP benchmark (tests/benchmarks/bench_backends.py).
/usr/bin/virtuoso-t:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends virtuoso-opensource-7-bin

/usr/bin/wrk:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk

# Debian's Chromium and its matching ChromeDriver for the browser tests (tests/browser/).
/usr/bin/chromium /usr/bin/chromedriver:
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver

serve: setup
	$(BIN)/bolyst serve

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# The backend benchmark (not part of `make test`): synthetic 10k and 100k triples, every store;
# then 1M triples for bolyst (with and without its result cache) and the Oxigraph server.
bench: setup-test
	$(BIN)/python tests/benchmarks/bench_backends.py --sizes 10000,100000
	$(BIN)/python tests/benchmarks/bench_backends.py --sizes 1000000 \
		--systems bolyst,bolyst-nocache,oxigraph --out tests/benchmarks/results-1m
