# argo-mlops: every target has a help line (make help).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
DATA ?= data/train/
ROWS ?= 50000
# Test files run on this many processes (a file's tests stay together, its fixtures built once).
TEST_WORKERS ?= 3  # the end-to-end tests wait on servers and subprocesses: three keep both cores busy
# PyTorch's CPU wheels: 2.13.0+cpu wins over PyPI's 2.13.0 (a CUDA build on Linux). Empty: PyPI's.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: help venv bytecode run drift-demo compile submit apply images test test-faults test-fast lint audit format bench bench-quick clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install the pinned dependencies (once)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, alone, and the CPU build (PyPI's Linux wheel is the multi-GB CUDA one): TORCH_INDEX= for CUDA
	$(BIN)/pip install -q --only-binary=:all: -c constraints.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) torch==2.13.0
	$(BIN)/pip install -q --only-binary=:all: -c constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

# pip compiles what it installs; the project's own modules are compiled here, so that a machine with
# PYTHONDONTWRITEBYTECODE does not compile them from source in every command and every step (~0.04 s each).
bytecode: venv ## compile the project's modules to bytecode (Python skips a file's bytecode once its source changes)
	@$(BIN)/python -m compileall -q steps workflows

$(DATA): | venv
	$(BIN)/mlops data generate $(DATA) --rows $(ROWS) --seed 7

run: venv bytecode | $(DATA) ## compile (into the run folder), lint and run the training workflow on this machine (MLflow on sqlite under .mlops/)
	$(BIN)/mlops run training -p data-uri=$(DATA) $(if $(PARAMS),$(foreach p,$(PARAMS),-p $(p)))

drift-demo: venv | $(DATA) ## generate drifted data and run the drift workflow on it (retrains when drifted)
	$(BIN)/mlops data generate data/incoming-drifted --rows 20000 --seed 11 --drift 1.0 --start 2026-04-01 --overwrite
	$(BIN)/mlops drift --current-uri data/incoming-drifted -p drift-share=0.3

compile: venv bytecode ## render the Hera workflows to manifests/*.yaml from cluster.env (not this shell's variables) and lint them
	$(BIN)/mlops compile
	$(BIN)/mlops lint

submit: venv ## submit the training workflow to the cluster (ARGO_SERVER, ARGO_TOKEN, MLOPS_* settings; PARAMS="k=v ...")
	$(BIN)/mlops submit training $(if $(PARAMS),$(foreach p,$(PARAMS),-p $(p))) $(if $(WAIT),--wait)

apply: venv ## create or update the WorkflowTemplates, CronWorkflows, EventSource and Sensor (KUBECONFIG)
	$(BIN)/mlops compile
	$(BIN)/mlops lint
	$(BIN)/mlops apply

# The tags the committed manifests pin: from cluster.env, as `mlops compile` reads them.
IMAGE ?= $(shell $(BIN)/python -c "from workflows.pipelines.compile import cluster_settings; print(cluster_settings().image)" 2>/dev/null)
GPU_IMAGE ?= $(shell $(BIN)/python -c "from workflows.pipelines.compile import cluster_settings; print(cluster_settings().gpu_image)" 2>/dev/null)

images: venv ## build the CPU and GPU step images with the tags the manifests pin (needs Docker)
	docker build -f images/Dockerfile -t $(IMAGE) .
	docker build -f images/Dockerfile.gpu -t $(GPU_IMAGE) .

test: venv bytecode ## the whole test suite (unit, end-to-end, faults, security) on TEST_WORKERS processes, then every benchmark at a small size
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15
	$(BIN)/python -m bench.run_all --quick

test-faults: venv ## preemption, flaky storage, tracking restarts, bad inputs, concurrency, security
	$(BIN)/pytest -q tests/faults tests/security

test-fast: venv ## only the tests that need no servers
	$(BIN)/pytest -q -m "not e2e"

lint: venv ## ruff check and format check
	$(BIN)/ruff check steps workflows tests bench
	$(BIN)/ruff format --check steps workflows tests bench

audit: venv ## pip-audit of the pinned dependencies (needs pypi.org's JSON API or OSV; fails if any package goes unaudited)
	$(BIN)/pip install -q pip-audit==2.10.1
	$(BIN)/pip-audit -r constraints.txt --no-deps --disable-pip --strict --progress-spinner off

format: venv ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix -q steps workflows tests bench
	$(BIN)/ruff format -q steps workflows tests bench

bench: venv bytecode ## all benchmarks (B1-B10, B2c), each against a baseline measured in the same run; one table (~40 min)
	$(BIN)/pip install -q --only-binary=:all: -c constraints.txt -e '.[bench]'  # Metaflow, for B10 only
	$(BIN)/python -m bench.run_all

bench-quick: venv bytecode ## every benchmark at a small size, once: checks they run (make test calls it)
	$(BIN)/python -m bench.run_all --quick

clean: ## remove local runs, the MLflow database, sample data and caches (keeps .venv)
	rm -rf .mlops data .pytest_cache .ruff_cache
