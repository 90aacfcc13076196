"""Micro-batching: concurrent requests share predict calls, and each gets its own rows back."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from model_server.batching import MicroBatcher


class RecordingModel:
    """Returns each row's first value times ten; refuses rows whose first value is negative."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.gate = threading.Event()

    def __call__(self, matrix: Any, output: str) -> Any:
        self.gate.wait(5)
        self.calls.append(matrix.shape[0])
        if (matrix[:, 0] < 0).any():
            raise ValueError("negative")
        return matrix[:, 0] * 10 + (0.5 if output == "predict_proba" else 0)


async def run_concurrently(
    model: RecordingModel, requests: list[tuple[Any, str]], max_rows: int
) -> list[Any]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        batcher = MicroBatcher(model, pool, max_rows)
        tasks = [asyncio.ensure_future(batcher.predict(m, o)) for m, o in requests]
        await asyncio.sleep(0.05)  # every request is queued while the first batch is blocked
        model.gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await batcher.close()
    return results


def test_concurrent_requests_are_batched_and_answered_in_order() -> None:
    model = RecordingModel()
    requests = [(np.array([[float(i)], [float(i) + 0.1]]), "predict") for i in range(10)]
    results = asyncio.run(run_concurrently(model, requests, max_rows=64))
    for i, result in enumerate(results):
        assert np.allclose(result, [i * 10, i * 10 + 1])
    assert sum(model.calls) == 20
    assert len(model.calls) < 10  # fewer predict calls than requests
    assert max(model.calls) > 2


def test_batches_respect_the_row_limit_and_the_output_kind() -> None:
    model = RecordingModel()
    requests = [(np.array([[float(i)]] * 3), "predict") for i in range(6)]
    requests.append((np.array([[7.0]]), "predict_proba"))
    results = asyncio.run(run_concurrently(model, requests, max_rows=6))
    assert max(model.calls) <= 6
    assert np.allclose(results[-1], [70.5])
    assert np.allclose(results[0], [0, 0, 0])


def test_a_failing_request_does_not_fail_its_batch_neighbours() -> None:
    model = RecordingModel()
    requests = [(np.array([[1.0]]), "predict"), (np.array([[-1.0]]), "predict")]
    requests += [(np.array([[2.0]]), "predict")]
    results = asyncio.run(run_concurrently(model, requests, max_rows=64))
    assert np.allclose(results[0], [10.0])
    assert isinstance(results[1], ValueError)
    assert np.allclose(results[2], [20.0])


def test_max_rows_one_calls_the_model_per_request() -> None:
    model = RecordingModel()
    requests = [(np.array([[float(i)]]), "predict") for i in range(4)]
    results = asyncio.run(run_concurrently(model, requests, max_rows=1))
    assert model.calls == [1, 1, 1, 1]
    assert [float(r[0]) for r in results] == [0.0, 10.0, 20.0, 30.0]


def test_loader_overrides_n_jobs_unless_told_not_to(forest_dir: Any, tmp_path: Any) -> None:
    from model_server import loader
    from model_server.settings import ServerSettings

    source = loader.resolve(str(forest_dir), None)
    fast = loader.load(source, ServerSettings(model_uri=str(forest_dir)), tmp_path)
    kept = loader.load(
        source, ServerSettings(model_uri=str(forest_dir), override_model_threads=False), tmp_path
    )
    assert fast.model.n_jobs == 1
    assert kept.model.n_jobs == -1


class OrderModel:
    """Records (output, rows) per call; the first call waits until the test lets it go."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.gate = threading.Event()

    def __call__(self, matrix: Any, output: str) -> Any:
        if not self.calls:
            self.gate.wait(5)
        self.calls.append((output, matrix.shape[0]))
        return matrix[:, 0]


def test_a_request_held_back_leads_the_next_batch() -> None:
    """B (another output) arrived before A5..A8: it is served before them, not after."""
    model = OrderModel()
    row = np.array([[1.0]])

    async def scenario() -> None:
        with ThreadPoolExecutor(max_workers=1) as pool:
            batcher = MicroBatcher(model, pool, max_rows=4)
            first = asyncio.ensure_future(batcher.predict(row, "predict"))
            await asyncio.sleep(0.05)  # the first call is running (blocked)
            outputs = ["predict", "predict_proba", *["predict"] * 7]
            rest = [asyncio.ensure_future(batcher.predict(row, o)) for o in outputs]
            await asyncio.sleep(0.05)
            model.gate.set()
            await asyncio.gather(first, *rest)
            await batcher.close()

    asyncio.run(scenario())
    assert model.calls == [
        ("predict", 1), ("predict", 4), ("predict_proba", 1), ("predict", 4),
    ]  # fmt: skip


def test_rows_that_cannot_be_stacked_are_answered_one_by_one() -> None:
    """Different widths cannot be concatenated: the batch falls back, nobody waits for ever."""
    model = RecordingModel()
    requests = [(np.array([[1.0]]), "predict"), (np.array([[2.0, 3.0]]), "predict"),
                (np.array([[4.0]]), "predict")]  # fmt: skip
    results = asyncio.run(run_concurrently(model, [(np.array([[0.0]]), "predict"), *requests], 64))
    assert [float(r[0]) for r in results] == [0.0, 10.0, 20.0, 40.0]
