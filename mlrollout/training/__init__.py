"""The training demo: three algorithms trained, measured and registered in MLflow."""
