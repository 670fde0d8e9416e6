# cvp: the customer value pipeline. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= var/demo

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint format bench evaluate clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install cvp with its dev tools (quick when done)

demo: setup ## Generate a landing zone, run the whole nightly pipeline, print where results are
	$(BIN)/python -m pipeline.demo --dir $(DEMO_DIR)

lint: setup ## ruff (lint + format check), mypy and the portable-SQL lint (docs/scale.md)
	$(BIN)/ruff check pipeline models tests bench
	$(BIN)/ruff format --check pipeline models tests bench
	$(BIN)/mypy
	$(BIN)/python -m pipeline.sql_lint

format: setup ## Reformat the code with ruff
	$(BIN)/ruff format pipeline models tests bench
	$(BIN)/ruff check --fix pipeline models tests bench

test: setup lint ## Lint, then the whole test suite
	$(BIN)/python -m pytest -q --durations=15

evaluate: setup ## Each model against the ground truth of the demo zone (after make demo)
	$(BIN)/python -m pipeline.evaluate --dir $(DEMO_DIR)

bench: setup ## Benchmarks on generated data (hours on a quiet machine; see README, Benchmarks)
	$(BIN)/python -m bench.run_all

clean: ## Remove generated data under var/
	rm -rf var
