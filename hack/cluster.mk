# Cluster targets (included by the root Makefile). MLROLLOUT_CLUSTER=local|kind picks the provider.
HACK := $(CURDIR)/hack

.PHONY: cluster-up
cluster-up: ## Bring up the test cluster (local processes by default; MLROLLOUT_CLUSTER=kind for kind)
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
images: ## Build the model server, operator and MLflow images and load them into the cluster
	$(HACK)/images.sh all

.PHONY: kind-up
kind-up: ## Create the kind cluster from kind-config.yaml (needs Docker and kind)
	MLROLLOUT_CLUSTER=kind $(HACK)/cluster.sh up

.PHONY: kind-down
kind-down: ## Delete the kind cluster
	MLROLLOUT_CLUSTER=kind $(HACK)/cluster.sh down

.PHONY: test-e2e
test-e2e: $(INSTALLED) ## Only the e2e tier, against the cluster the kubeconfig names
	MLROLLOUT_KUBECONFIG=$$($(HACK)/cluster.sh kubeconfig) $(BIN)/pytest -m e2e tests/e2e
