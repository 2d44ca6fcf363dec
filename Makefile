# sagechain: `make demo` runs the chain offline; `make test` runs every check.
# Each target builds the virtual environments it needs from pinned files, so a
# fresh clone needs only a Python 3.13 (found below, pyenv included) and make.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Lambda runs Python 3.13: find one, preferring an explicit PYTHON313.
ifndef PYTHON313
PYTHON313 := $(shell \
  for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do \
    if PYENV_VERSION=$$(ls $$HOME/.pyenv/versions 2>/dev/null | grep '^3\.13' | tail -n 1) \
       $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1; then \
      PYENV_VERSION=$$(ls $$HOME/.pyenv/versions 2>/dev/null | grep '^3\.13' | tail -n 1) \
        $$p -c 'import sys; print(sys.executable)'; break; \
    fi; \
  done)
endif

VENV := .venv
CHECKOV_VENV := .venv-checkov
BIN := $(VENV)/bin
REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= $(REGION)
# SAM's python builder looks for `python3.13` on PATH: the venv provides it.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help demo sandbox test lint types unit template-check build bench schema openapi iam-doc clean

help:
	@echo "make demo   run the pipeline offline (moto), from upload to prediction"
	@echo "make sandbox  the offline stack with S3 and the API on 127.0.0.1: run your own dataset"
	@echo "             (then: $(BIN)/sagechain --local upload DIR; $(BIN)/sagechain --help)"
	@echo "make test   lint, types, tests, template checks and sam build"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make openapi  write the API's OpenAPI document (docs/openapi.json)"
	@echo "make iam-doc  write docs/iam.md (granted actions and the tests that use them)"

# The `sagechain` CLI (cli/, pyproject.toml) is installed editable: $(BIN)/sagechain runs this checkout.
$(BIN)/.installed: requirements-dev.txt layers/common/requirements.txt pyproject.toml
	@test -n "$(PYTHON313)" || { echo "error: Python 3.13 not found (set PYTHON313=/path/to/python3.13)"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@test -n "$(PYTHON313)" || { echo "error: Python 3.13 not found (set PYTHON313=/path/to/python3.13)"; exit 1; }
	$(PYTHON313) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/pytest -n 2

template-check: $(BIN)/.installed $(CHECKOV_VENV)/.installed
	$(BIN)/sam validate --lint --template template.yaml --region $(REGION)
	$(BIN)/cfn-lint --template template.yaml --append-rules cfn_lint_serverless.rules
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --framework cloudformation --file template.yaml

build: $(BIN)/.installed
	$(BIN)/sam build --template template.yaml

test: lint types unit template-check build
	@echo "make test: every check passed"

demo: $(BIN)/.installed
	$(BIN)/python -m local.demo $(ARGS)

# The offline stack serving S3 (moto's server mode) and the API on 127.0.0.1 until Ctrl-C:
# `sagechain --local upload DIR` (or `aws --endpoint-url`) runs your dataset through the chain.
sandbox: $(BIN)/.installed
	$(BIN)/python -m local.sandbox $(ARGS)
# docs/iam.md: each function's granted actions and the e2e tests that use them (a whole e2e
# run records them; tests/e2e/test_iam_grants.py keeps the page current).
iam-doc: $(BIN)/.installed
	IAM_DOC_WRITE=1 $(BIN)/pytest -q -n 2 tests/e2e

# Every bench/<name>.py is a benchmark with a main(); figures go to bench/README.md. The cold
# start benchmark reads the sam build output, so the build comes first.
bench: build
	for module in $$(ls bench/*.py | grep -v __init__ | sed 's|/|.|; s|\.py$$||'); do \
	  echo "== $$module"; $(BIN)/python -m $$module; done

# The dataset spec's and the events' JSON Schemas, published (tests keep them current).
schema: $(BIN)/.installed
	PYTHONPATH=layers/common $(BIN)/python -m sagechain.spec > docs/dataset-spec.schema.json
	PYTHONPATH=layers/common $(BIN)/python -m sagechain.events > docs/events.schema.json

# The API's OpenAPI document, generated from the functions' resolvers: docs/openapi.json and
# the copy GET /openapi.json serves (a test keeps both current).
openapi: $(BIN)/.installed
	$(BIN)/python -m local.openapi

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
