"""The model's lifecycle: load (with retries) → warm-up → ready → stopping.

Readiness is earned, never assumed: `ready` is true only after the model loaded AND a warm-up
inference on its input example (or a schema-built row) returned one prediction per row — the
opposite of MLServer#2056, which reported ready with no model loaded. All model calls run on
one dedicated thread, so the event loop stays free and the model sees one caller at a time.
"""

from __future__ import annotations

import asyncio
import enum
import gc
import logging
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from . import loader, predictor
from .batching import MicroBatcher
from .errors import InferenceFailed, InvalidInput, ModelNotReady
from .inputs import FloatArray
from .metrics import ServerMetrics
from .profile import METADATA_KEY as PROFILE_KEY
from .profile import LiveProfile
from .settings import ServerSettings

log = logging.getLogger(__name__)


class State(enum.StrEnum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    STOPPING = "stopping"


class ModelRuntime:
    def __init__(self, settings: ServerSettings, metrics: ServerMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.state = State.LOADING
        self.reason = "model is loading"
        self.predictor: predictor.Predictor | None = None
        self.profile: LiveProfile | None = None  # with a reference profile in the MLmodel
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        # Downloaded model files live as long as the server (TMPDIR: an emptyDir on Kubernetes).
        self._downloads = tempfile.TemporaryDirectory(prefix="model-server-")
        self._batcher = MicroBatcher(self._predict_sync, self._executor, settings.max_batch_rows)
        self._batcher.batch_sizes = metrics.batch_rows.observe

    @property
    def ready(self) -> bool:
        return self.state is State.READY

    async def load(self) -> None:
        """Try to load and warm up the model, backing off between attempts; never raises."""
        loop = asyncio.get_running_loop()
        delay = self.settings.load_retry_seconds
        for attempt in range(1, self.settings.load_attempts + 1):
            started = time.perf_counter()
            try:
                ready = await loop.run_in_executor(self._executor, self._load_and_warm_up)
            except Exception as exc:
                self.reason = f"model failed to load: {exc}"
                log.error(
                    "model load failed",
                    extra={"attempt": attempt, "of": self.settings.load_attempts, "err": str(exc)},
                )
                if attempt < self.settings.load_attempts and self.state is State.LOADING:
                    await asyncio.sleep(delay)
                    delay *= 2
                continue
            if self.state is not State.LOADING:  # SIGTERM arrived while loading
                return
            self._mark_ready(ready, time.perf_counter() - started)
            return
        if self.state is State.LOADING:
            self.state = State.FAILED
            log.error("model will not be served", extra={"reason": self.reason})

    def _load_and_warm_up(self) -> predictor.Predictor:
        threads = self.settings.inference_threads
        if self.settings.override_model_threads:
            threadpool_limits(limits=threads)  # BLAS/OpenMP pools, process-wide
        source = loader.resolve(self.settings.model_uri, self.settings.model_name)
        loaded = loader.load(source, self.settings, Path(self._downloads.name))
        built = predictor.build(loaded, use_fast_path=self.settings.override_model_threads)
        rows = predictor.example_matrix(built)
        built = predictor.verify_fast_path(built, rows)
        result = built.predict(rows)
        if len(result) != rows.shape[0]:
            raise ValueError(f"warm-up returned {len(result)} predictions for {rows.shape[0]} rows")
        return built

    def _mark_ready(self, ready: predictor.Predictor, seconds: float) -> None:
        source = ready.loaded.source
        self.profile = _live_profile(ready)
        self.predictor = ready
        self.state, self.reason = State.READY, "model loaded and warmed up"
        self.metrics.load_seconds.set(seconds)
        self.metrics.ready.set(1)
        # Everything loaded so far (mlflow, pandas, scikit-learn, the model: ~10^6 objects) lives
        # as long as the process. Left in the collected generations, each full collection walks
        # all of it: a pause of ~100 ms every few thousand requests, the p99 under load.
        gc.collect()
        gc.freeze()
        self.metrics.info.labels(
            source.name, source.version, ready.loaded.flavor, source.uri, ready.fast_path
        ).set(1)
        log.info(
            "model ready",
            extra={"model": source.name, "version": source.version, "seconds": round(seconds, 3),
                   "fast_path": ready.fast_path},
        )  # fmt: skip

    def begin_shutdown(self) -> None:
        """Readiness turns false at once; in-flight and queued requests still complete."""
        self.state, self.reason = State.STOPPING, "server is shutting down"
        self.metrics.ready.set(0)

    def require_ready(self) -> predictor.Predictor:
        if self.predictor is None or self.state is State.LOADING or self.state is State.FAILED:
            raise ModelNotReady(f"model not ready: {self.reason}")
        return self.predictor

    async def infer(self, matrix: FloatArray, output: str = predictor.OUTPUT_PREDICT) -> Any:
        ready = self.require_ready()
        if output not in ready.outputs:
            raise InvalidInput(
                f"unknown output {output!r}; this model offers {list(ready.outputs)}"
            )
        try:
            result = await self._batcher.predict(matrix, output)
        except Exception as exc:
            log.exception("inference failed")
            raise InferenceFailed(f"model error: {type(exc).__name__}") from exc
        self.metrics.rows.inc(matrix.shape[0])
        return result

    def observe(self, matrix: FloatArray, labels: Any | None) -> None:
        """Count one request's rows, and the labels it was answered (if it asked for them),
        in the live profile: once per request, whatever outputs it asked for."""
        if self.profile is not None:
            self.profile.update(matrix, labels)

    def _predict_sync(self, matrix: Any, output: str) -> Any:
        assert self.predictor is not None
        return self.predictor.predict(matrix, output)

    async def close(self) -> None:
        await self._batcher.close()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._downloads.cleanup()


def _live_profile(ready: predictor.Predictor) -> LiveProfile | None:
    """The live profile in the bins of the model's reference profile, if it was logged with
    one and its features are the columns the server takes (else none, and a log line)."""
    metadata = getattr(ready.loaded.mlflow_model, "metadata", None) or {}
    reference = metadata.get(PROFILE_KEY)
    columns = ready.spec.feature_names
    if reference is None or columns is None:
        return None
    try:
        return LiveProfile(reference, list(columns))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("reference profile unusable: no live profile", extra={"error": str(exc)})
        return None
