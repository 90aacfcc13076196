# Cluster targets (included by the root Makefile). CLUSTER=local|kind picks the provider (the
# hack/ scripts read it as MLROLLOUT_CLUSTER, which also works as an environment variable).
HACK := $(CURDIR)/hack
CLUSTER ?= $(or $(MLROLLOUT_CLUSTER),kind)
export MLROLLOUT_CLUSTER := $(CLUSTER)

.PHONY: cluster-up
cluster-up: ## Bring up the test cluster (local processes by default; CLUSTER=kind: kind, offline)
	$(HACK)/cluster.sh up

.PHONY: cluster-down
cluster-down: ## Stop the test cluster and remove everything it created
	$(HACK)/cluster.sh down

.PHONY: cluster-kubeconfig
cluster-kubeconfig: ## Print the path of the test cluster's kubeconfig
	@$(HACK)/cluster.sh kubeconfig

.PHONY: cluster-logs
cluster-logs: ## Print where every cluster component logs
	@$(HACK)/cluster.sh logs

.PHONY: images
images: ## Build the model server, operator, MLflow and PostgreSQL images; load them into the cluster
	$(HACK)/images.sh all

.PHONY: kind-up
kind-up: ## Same as make cluster-up CLUSTER=kind
	MLROLLOUT_CLUSTER=kind $(HACK)/cluster.sh up

.PHONY: kind-down
kind-down: ## Same as make cluster-down CLUSTER=kind
	MLROLLOUT_CLUSTER=kind $(HACK)/cluster.sh down

.PHONY: test-e2e
test-e2e: $(INSTALLED) ## Only the e2e tier, on CLUSTER (brought up, images loaded)
	$(MAKE) --no-print-directory cluster-up images
	MLROLLOUT_E2E_REQUIRED=1 MLROLLOUT_KUBECONFIG=$$($(HACK)/cluster.sh kubeconfig) \
		$(BIN)/pytest -m e2e tests/e2e

.PHONY: test-e2e-smoke
test-e2e-smoke: $(INSTALLED) ## The e2e smoke subset (marker smoke) on CLUSTER: what CI runs on the second provider
	$(MAKE) --no-print-directory cluster-up images
	MLROLLOUT_E2E_REQUIRED=1 MLROLLOUT_KUBECONFIG=$$($(HACK)/cluster.sh kubeconfig) \
		$(BIN)/pytest -m 'e2e and smoke' tests/e2e
