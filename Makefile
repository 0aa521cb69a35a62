# Streaming Data Solution for Amazon MSK: every task a developer or CI runs.
# The Makefile installs what it needs into .venv (Python 3.13), .venv-checkov and .venv-flink (Python 3.11);
# nothing else is assumed.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_VERSION := $(shell cat .python-version)
PYTHON ?= $(shell command -v python$(PYTHON_VERSION) 2>/dev/null || ls -d $(HOME)/.pyenv/versions/$(PYTHON_VERSION)*/bin/python 2>/dev/null | head -n 1)
VENV := .venv
BIN := $(abspath $(VENV)/bin)
CHECKOV_VENV := .venv-checkov
# The Flink job: Python 3.11, as Managed Service for Apache Flink 1.20 runs it.
FLINK_PYTHON_VERSION := 3.11
FLINK_PYTHON ?= $(shell command -v python$(FLINK_PYTHON_VERSION) 2>/dev/null || ls -d $(HOME)/.pyenv/versions/$(FLINK_PYTHON_VERSION).*/bin/python 2>/dev/null | head -n 1)
FLINK_VENV := .venv-flink
FLINK_BIN := $(abspath $(FLINK_VENV)/bin)
PIP_FLAGS := --quiet --disable-pip-version-check
export PATH := $(BIN):$(PATH)
export CHECKOV_BIN := $(abspath $(CHECKOV_VENV)/bin/checkov)
export AWS_DEFAULT_REGION ?= us-east-1

TEMPLATES := template.yaml $(wildcard nested/*.yaml)
ENV ?= default

.PHONY: help venv asl-validator demo invoke local e2e e2e-local fuzz-api bench profile openapi test test-flink test-unit test-templates test-integration lint format validate build deploy diagram clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python $(PYTHON_VERSION) not found: install it (pyenv install $(PYTHON_VERSION)) or set PYTHON=" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) pip==26.3
	$(BIN)/pip install $(PIP_FLAGS) --group dev -c constraints.txt
	touch $@

$(CHECKOV_VENV)/.installed: pyproject.toml constraints-checkov.txt
	@test -n "$(PYTHON)" || { echo "Python $(PYTHON_VERSION) not found" >&2; exit 1; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install $(PIP_FLAGS) pip==26.3
	$(CHECKOV_VENV)/bin/pip install $(PIP_FLAGS) --group checkov -c constraints-checkov.txt
	touch $@

$(FLINK_VENV)/.installed: pyproject.toml constraints-flink.txt
	@test -n "$(FLINK_PYTHON)" || { echo "Python $(FLINK_PYTHON_VERSION) not found: install it (pyenv install $(FLINK_PYTHON_VERSION)) or set FLINK_PYTHON=" >&2; exit 1; }
	$(FLINK_PYTHON) -m venv $(FLINK_VENV)
	$(FLINK_BIN)/python -m pip install $(PIP_FLAGS) pip==26.3
	$(FLINK_BIN)/pip install $(PIP_FLAGS) --group flink -c constraints-flink.txt
	touch $@

venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(FLINK_VENV)/.installed ## Create the virtual environments

test: venv flink-jar asl-validator ## Run every test tier except e2e against AWS
	$(BIN)/pytest --ignore=tests/e2e
	$(MAKE) --no-print-directory sar-check
	$(MAKE) --no-print-directory test-flink
	$(MAKE) --no-print-directory e2e-local
	$(MAKE) --no-print-directory fuzz-api

test-flink: $(FLINK_VENV)/.installed flink-package ## The Flink job in a local PyFlink MiniCluster (Python 3.11)
	$(FLINK_BIN)/pytest --confcutdir=tests/flink tests/flink

test-unit: venv ## Unit and functional tests only (fast)
	$(BIN)/pytest tests/unit tests/functional

test-templates: venv asl-validator ## SAM transform, cfn-lint, checkov and the option matrix
	$(BIN)/pytest tests/templates

# The state machine definitions' validator (npm asl-validator, pinned by tests/templates/asl/package-lock.json);
# tests/templates/state_machines.py runs it from here.
ASL_VALIDATOR := build/asl-validator/node_modules/.bin/asl-validator
asl-validator: $(ASL_VALIDATOR) ## Install the Amazon States Language validator the template tests use (needs npm)
$(ASL_VALIDATOR): tests/templates/asl/package.json tests/templates/asl/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 18 or later" >&2; exit 1; }
	mkdir -p build/asl-validator
	cp tests/templates/asl/package.json tests/templates/asl/package-lock.json build/asl-validator/
	cd build/asl-validator && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-integration: venv flink-jar ## Tests against the local broker and moto server (the Flink job's among them)
	$(BIN)/pytest tests/integration

# The FlinkS3 application package: Maven (Java 17, Maven 3.6.3 or later; downloads cached in ~/.m2) shades the
# Kafka connector and aws-msk-iam-auth into one uber-jar and zips it with the job's modules
# (functions/flink_app/pom.xml, assembly.xml). The zip is rebuilt only when the job's files change.
FLINK_APP := functions/flink_app
FLINK_ZIP := build/flink/flink-analytics.zip
FLINK_JAR := $(FLINK_APP)/target/pyflink-dependencies.jar
# The deployer function carries the zip as its own artefact (gitignored copy).
FLINK_DEPLOYER_ZIP := functions/flink_deployer/application.zip
# Maven 3.8's -q still writes ANSI resets: strip them, keep any error it prints.
MVN := mvn -B -q -Dstyle.color=never
STRIP_ANSI := sed -e 's/\x1b\[[0-9;]*m//g'

.PHONY: flink-package flink-jar
$(FLINK_ZIP): $(FLINK_APP)/pom.xml $(FLINK_APP)/assembly.xml $(wildcard $(FLINK_APP)/*.py)
	@command -v mvn >/dev/null || { echo "Maven not found: install Maven 3.6.3+ and Java 17 (apt-get install maven openjdk-17-jdk-headless)" >&2; exit 1; }
	$(MVN) -f $(FLINK_APP)/pom.xml package 2>&1 | $(STRIP_ANSI)
	@touch $@  # Maven leaves an identical zip as it was, older than the sources

$(FLINK_DEPLOYER_ZIP): $(FLINK_ZIP)
	@mkdir -p $(@D)
	cp $< $@

flink-package: $(FLINK_DEPLOYER_ZIP) ## The FlinkS3 application zip (main.py + lib/pyflink-dependencies.jar); prints its path last
	@echo $(abspath $(FLINK_ZIP))

flink-jar: $(FLINK_ZIP) ## The job's uber-jar alone (built with the zip); prints its path last
	@test -f $(FLINK_JAR) || $(MVN) -f $(FLINK_APP)/pom.xml package 2>&1 | $(STRIP_ANSI)
	@echo $(abspath $(FLINK_JAR))

# What the Serverless Application Repository would take (publishing/sar_check.py): each component's resource
# types after the SAM transform against publishing/supported_resources.txt, and the IAM grants SAR refuses.
# Writes the flavours (a component without its refused optional resources) to build/sar/; fails only when a
# component that must be publishable is not, or on an error.
.PHONY: sar-check
sar-check: $(VENV)/.installed ## Print which components SAR would take (and why not); generate build/sar/ flavours
	$(BIN)/python -m publishing.sar_check

.PHONY: rehearse
rehearse: $(VENV)/.installed ## Deploy rehearsal: sam package, then the 10 option rows created and deleted in moto's CloudFormation (make test runs it as tests/templates/test_rehearsal.py)
	$(BIN)/python -m tests.templates.rehearsal

lint: venv ## ruff, mypy, cfn-lint, checkov
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint $(TEMPLATES)
	$(BIN)/python -m tests.templates.checkov_scan

format: venv ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

validate: venv ## sam validate --lint on every template
	@for t in $(TEMPLATES); do echo "sam validate --lint -t $$t"; $(BIN)/sam validate --lint -t $$t; done

# Then compileall: Lambda's code folders are read-only, so without .pyc every cold start compiles what it imports
# (the venv's Python is the runtime's 3.13; unchecked-hash: the .pyc stay valid whatever the times in the zip).
build: venv flink-package ## sam build (all functions and the shared layer, arm64; the Flink zip travels in the deployer's package)
	$(BIN)/sam build
	$(BIN)/python -m compileall -q --invalidation-mode unchecked-hash .aws-sam/build

deploy: build ## sam deploy --guided, using samconfig.toml's [ENV] section (ENV=default|dev|prod)
	$(BIN)/sam deploy --guided --config-env $(ENV)

diagram: venv ## Redraw docs/architecture.svg
	$(BIN)/python scripts/draw_architecture.py docs/architecture.svg

.PHONY: monitoring-docs
monitoring-docs: $(VENV)/.installed ## Redraw docs/monitoring.md's dashboard pictures and alarm tables from the templates
	PYTHONPATH=$(LOCAL_PATH) $(BIN)/python -m local.monitoring_docs

clean: ## Remove build output and virtual environments
	rm -rf .aws-sam $(VENV) $(CHECKOV_VENV) $(FLINK_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -rf $(FLINK_APP)/target build/flink $(FLINK_DEPLOYER_ZIP)

LOCAL_PATH := layers/shared:$(subst $(eval) ,:,$(wildcard functions/*)):.

invoke: $(VENV)/.installed ## Run one function with an event file, no Docker: FUNCTION=<folder> EVENT=<file>
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=consumer EVENT=events/consumer/json-records.json" >&2; exit 2; }
	PYTHONPATH=$(LOCAL_PATH) $(BIN)/python -m local.invoke $(FUNCTION) $(EVENT)

OPTION ?= All

# The Flink environment and the job's uber-jar only for the options that run the Flink job.
demo: $(VENV)/.installed $(if $(filter FlinkS3 All,$(OPTION)),$(FLINK_VENV)/.installed flink-jar) ## The solution end to end on this machine, no AWS, no Docker (OPTION=All|LambdaConsumer|...)
	PYTHONPATH=$(LOCAL_PATH) $(BIN)/python -m local.demo $(OPTION) 2> >(grep -v '^%' >&2)

# The local runtime kept running (Ctrl-C stops it); `make e2e-local` and `make fuzz-api` run against it.
local: $(VENV)/.installed ## The local runtime until Ctrl-C, with a deployed stack's outputs and a curl to try (OPTION=All|...)
	PYTHONPATH=$(LOCAL_PATH) $(BIN)/python -m local.runtime $(OPTION) $(if $(OUTPUTS),--outputs $(OUTPUTS))

# The archive replay's state machine against a running `make local` (LambdaFirehoseS3 or All), whose outputs
# file it reads (docs/replay.md): FROM and TO are record timestamps (ISO-8601 UTC or epoch ms).
.PHONY: replay
replay: $(VENV)/.installed ## Replay make local's archive into a topic: FROM=... TO=... TARGET=<topic> [RUN_ID=] [DRY_RUN=1]
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make replay FROM=2026-11-25T00:00:00Z TO=2026-11-26T00:00:00Z TARGET=streaming-events-replay [RUN_ID=<id>] [DRY_RUN=1]" >&2; exit 2; }
	PYTHONPATH=$(LOCAL_PATH) $(BIN)/python -m local.replay --from $(FROM) --to $(TO) $(if $(TARGET),--target $(TARGET)) \
		$(if $(RUN_ID),--run-id $(RUN_ID)) $(if $(filter-out 0 false,$(DRY_RUN)),--dry-run) $(if $(OUTPUTS),--outputs $(OUTPUTS))

# tests/e2e reads the root stack's outputs; the tier has its own conftest (real credentials, no fakes).
E2E_PYTEST := $(BIN)/pytest --confcutdir=tests/e2e -p no:cacheprovider tests/e2e

e2e: $(VENV)/.installed ## Post-deploy checks against a deployed stack: STACK=<name> (after sam deploy)
	@test -n "$(STACK)" || { echo "usage: make e2e STACK=<the stack name you deployed>" >&2; exit 2; }
	AWS_SAM_STACK_NAME=$(STACK) $(E2E_PYTEST)

e2e-local: $(VENV)/.installed ## tests/e2e against make local (started, checked, stopped)
	PYTHONPATH=$(LOCAL_PATH) $(BIN)/python -m local.with_runtime --option $(OPTION) -- \
		env E2E_ARCHIVE_WAIT_SECONDS=60 E2E_CONSUMER_WAIT_SECONDS=60 $(E2E_PYTEST)

fuzz-api: $(VENV)/.installed ## schemathesis against make local's API, with and without a token (docs/local.md)
	PYTHONPATH=$(LOCAL_PATH) $(BIN)/python -m local.with_runtime --option ClusterWithRestApi -- \
		$(BIN)/python -m tests.fuzz.run_schemathesis

BENCH_PATH := layers/shared:functions/consumer:functions/firehose_forwarder:functions/producer:functions/archive_replay:.

bench: $(VENV)/.installed ## Benchmarks: ratios against baselines measured in the same process
	PYTHONPATH=$(BENCH_PATH) $(BIN)/python -m benchmarks.consumer
	PYTHONPATH=$(BENCH_PATH) $(BIN)/python -m benchmarks.forwarder
	PYTHONPATH=$(BENCH_PATH) $(BIN)/python -m benchmarks.producer
	PYTHONPATH=$(BENCH_PATH) $(BIN)/python -m benchmarks.replay
	PYTHONPATH=$(BENCH_PATH) $(BIN)/python -m benchmarks.imports

profile: $(VENV)/.installed ## Profile of one benchmark: BENCH=consumer|forwarder|producer|imports (cProfile; -X importtime)
	PYTHONPATH=$(BENCH_PATH) $(BIN)/python -m benchmarks.$(or $(BENCH),consumer) --profile

openapi: $(VENV)/.installed ## Regenerate docs/openapi.json from the producer's routes
	PYTHONPATH=layers/shared:functions/producer:. $(BIN)/python scripts/write_openapi.py docs/openapi.json

# Publishing to the Serverless Application Repository (publishing/publish.py; docs/publishing.md): every
# publishable component built, packaged and published, nested applications before their parents. DRY_RUN=1
# prints the plan and calls no AWS API. S3_BUCKET (default: sam package --resolve-s3) and S3_PREFIX: where the
# artefacts go; PRINCIPAL: the account IDs (comma-separated) that may deploy the nested applications (default:
# the publishing account).
.PHONY: publish
publish: $(VENV)/.installed ## Publish the publishable components to SAR, children first (DRY_RUN=1: print the plan only)
	$(BIN)/python -m publishing.publish $(if $(filter-out 0 false,$(DRY_RUN)),--dry-run) \
		$(if $(S3_BUCKET),--s3-bucket $(S3_BUCKET)) $(if $(S3_PREFIX),--s3-prefix $(S3_PREFIX)) \
		$(if $(PRINCIPAL),--principal $(PRINCIPAL))

.PHONY: publishing-docs
publishing-docs: $(VENV)/.installed ## Regenerate docs/publishing.md's compatibility table and install commands
	$(BIN)/python -m publishing.docs
