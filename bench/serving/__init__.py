"""`make bench-serving`: our model server beside MLServer and `mlflow models serve`, one run."""
