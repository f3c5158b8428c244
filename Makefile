# The two commands in README.md: `make serve` and `make test`. Both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test setup setup-test lint

$(BIN)/python:
	$(PY) -m venv $(VENV)

setup: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .

setup-test: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'

serve: setup
	$(BIN)/bolyst serve

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest
