"""mlrollout: promote MLflow models onto Kubernetes behind SLO gates.

This package holds the command-line side (training demo, local tracking server, gate checks);
the operator and the model server live in their own source roots (`operator/`, `serving/`).
"""

__version__ = "0.1.0"
