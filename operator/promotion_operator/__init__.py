"""mlrollout's kopf operator: promotes MLflow model versions through a `ModelPromotion` resource.

Skeleton for now (the operator issue builds it): resolve the candidate, gate it on its MLflow
metrics, roll it out, verify it live, then promote or roll back.
"""
