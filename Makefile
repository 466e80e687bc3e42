# Set-up and checks. `make demo` and `make test` work on a fresh machine: they create the
# virtual environment and install vadkit first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.vadkit-installed

.PHONY: install demo test lint docs docs-serve check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: a CUDA build that also runs on the CPU
	$(BIN)/pip install torch==2.14.1
	$(BIN)/pip install -e ".[dev,docs,deploy]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/vadkit demo

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check vadkit plugins tests examples benchmarks docs_src
	$(BIN)/ruff format --check vadkit plugins tests examples benchmarks docs_src
	$(BIN)/mypy vadkit plugins

docs: install
	$(BIN)/python -m docs_src.generate --check   # the committed reference pages are current
	$(BIN)/mkdocs build --strict

docs-serve: install
	$(BIN)/mkdocs serve

check: lint docs test

clean:
	rm -rf $(VENV) site build *.egg-info
