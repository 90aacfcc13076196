"""mlrollout's model server: serves one MLflow model over HTTP (Open Inference Protocol v2).

It loads a model from the MLflow registry or a local MLflow model directory, proves it with a
warm-up inference before it reports ready, and keeps the single-row hot path close to the
model's own compute (see `runtime.py` and `batching.py`).
"""
