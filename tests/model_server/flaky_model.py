"""A python_function model written as MLflow "models from code" for the server tests.

It predicts the first feature doubled, raises when that feature is 999 (a model error), and
sleeps when it is 555 (a slow request, for the graceful-shutdown test).
"""

import time

import mlflow
import pandas as pd
from mlflow.pyfunc.model import PythonModel


class FlakyModel(PythonModel):
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:  # type: ignore[no-untyped-def]
        first = model_input.iloc[:, 0]
        if (first == 999).any():
            raise RuntimeError("boom: secret internals /etc/passwd")
        if (first == 555).any():
            time.sleep(2.0)
        return pd.Series(first * 2.0)


mlflow.models.set_model(FlakyModel())
