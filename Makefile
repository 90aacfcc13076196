# mlrollout — every target a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
# Installs again only when pyproject.toml changes.
INSTALLED := $(VENV)/.installed

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "error: Python >= 3.11 is needed (found $$($(PYTHON) --version)); set PYTHON=" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

.PHONY: install
install: $(INSTALLED) ## Create .venv and install the project editable with all extras

.PHONY: lint
lint: $(INSTALLED) ## ruff check, ruff format --check, mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: $(INSTALLED) ## Fix what ruff can fix and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: test
test: $(INSTALLED) ## What CI runs: lint, every tier with e2e on kind, then the e2e smoke subset on the local provider
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory cluster-up images CLUSTER=kind
	MLROLLOUT_E2E_REQUIRED=1 MLROLLOUT_KUBECONFIG=$$(MLROLLOUT_CLUSTER=kind $(HACK)/cluster.sh kubeconfig) \
		$(BIN)/pytest
	$(MAKE) --no-print-directory cluster-down CLUSTER=kind
	$(MAKE) --no-print-directory test-e2e-smoke CLUSTER=local

.PHONY: test-unit
test-unit: $(INSTALLED) ## Only the fast tests (no MLflow server, no cluster)
	$(BIN)/pytest -m 'not integration and not e2e'

.PHONY: test-local
test-local: $(INSTALLED) ## Every tier but e2e (no cluster needed)
	$(BIN)/pytest -m 'not e2e'

# MLflow in the demo: MLFLOW_BACKEND=sqlite|postgresql, MLFLOW_AUTH=none|basic.
MLFLOW_BACKEND ?= sqlite
MLFLOW_AUTH ?= none

.PHONY: demo
demo: $(INSTALLED) ## The whole story on the local cluster (MLFLOW_BACKEND=postgresql MLFLOW_AUTH=basic: MLflow as a team runs it)
	$(MAKE) --no-print-directory cluster-up images
	$(BIN)/python -m mlrollout.demo --kubeconfig $$($(HACK)/cluster.sh kubeconfig) \
		--mlflow-backend $(MLFLOW_BACKEND) --mlflow-auth $(MLFLOW_AUTH)

.PHONY: demo-down
demo-down: ## Remove what make demo installed (the cluster stays; make cluster-down removes it)
	-bin/helm --kubeconfig $$($(HACK)/cluster.sh kubeconfig) uninstall mlrollout -n mlrollout-demo
	-bin/kubectl --kubeconfig $$($(HACK)/cluster.sh kubeconfig) delete namespace mlrollout-demo

.PHONY: demo-local
demo-local: $(INSTALLED) ## Without Kubernetes: local MLflow, training, the champion served locally
	$(BIN)/python -m mlrollout.local_demo

.PHONY: train
train: $(INSTALLED) ## The training demo into the local MLflow store (mlrollout train --quick-demo)
	$(BIN)/mlrollout train --quick-demo

.PHONY: mlflow
mlflow: $(INSTALLED) ## A local MLflow tracking server + UI on the local store (Ctrl-C stops it)
	$(BIN)/mlrollout mlflow

.PHONY: bench
bench: $(INSTALLED) ## Benchmarks (figures as ratios against a reference from the same run)
	$(BIN)/python -m bench.serving_throughput

.PHONY: bench-serving
bench-serving: $(INSTALLED) ## Ours vs MLServer vs mlflow models serve, one run (ARGS=--quick: ~5 min)
	$(BIN)/python -m bench.serving $(ARGS)

.PHONY: bench-mirror
bench-mirror: $(INSTALLED) ## What shadow mirroring costs the champion: wrk with mirroring off, then on at 100% (~1 min)
	$(BIN)/python -m bench.mirror_overhead $(ARGS)

.PHONY: bench-operator
bench-operator: $(INSTALLED) ## N ModelPromotions at once on the test cluster (make cluster-up first; ARGS=--smoke)
	$(BIN)/python -m bench.operator $(ARGS)

.PHONY: load
load: $(INSTALLED) ## Staged open-loop ramp with p95/error thresholds (ARGS=--url http://... for a running one)
	$(BIN)/python -m tests.load.run $(ARGS)

.PHONY: chart-crd
chart-crd: ## Copy the CRD (k8s/crds/, the one source) into the Helm chart
	cp k8s/crds/modelpromotions.mlrollout.dev.yaml charts/mlrollout/files/

.PHONY: manifests
manifests: $(INSTALLED) ## Render k8s/operator/ (for kubectl apply -k) from the Helm chart
	$(BIN)/python hack/render-manifests.py $(CURDIR)/bin/helm

.PHONY: argocd-cm
argocd-cm: $(INSTALLED) ## Copy the Argo CD health check (argocd/health.lua) into argocd/argocd-cm.yaml
	$(BIN)/python hack/render-argocd-cm.py

.PHONY: clean
clean: ## Remove caches and local MLflow data (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .mlrollout
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

-include hack/cluster.mk
