"""mlrollout's kopf operator: promotes MLflow model versions through a `ModelPromotion` resource.

It resolves the candidate version, gates it on its MLflow metrics, rolls it out, verifies it
live, then promotes it (MLflow alias and tags) or rolls back to the last known-good version.
Layers: `handlers` → `driver` → `reconcile` → pure `gates`, `verification`, `manifests`,
`status`, `spec`; the outside world sits behind the protocols in `ports`.
"""
