"""Micro-batching: concurrent requests share one predict call on the inference thread.

While the model computes one batch, new requests queue; the next call takes all of them (up to
`max_rows`). A lone request is never delayed: there is no timer, only the time the previous
batch took. A request that does not fit (another output, too many rows) leads the next batch,
so it cannot starve. A batch that fails is retried row group by row group, so one bad request
cannot fail its neighbours, and nothing a batch raises stops the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Array = npt.NDArray[Any]
PredictFn = Callable[[Array, str], Array]


@dataclass
class _Pending:
    matrix: Array
    output: str
    future: asyncio.Future[Array] = field(repr=False)


class MicroBatcher:
    def __init__(self, predict: PredictFn, executor: Executor, max_rows: int) -> None:
        self._predict = predict
        self._executor = executor
        self._max_rows = max_rows
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._held: deque[_Pending] = deque()  # taken from the queue, first in the next batch
        self._worker: asyncio.Task[None] | None = None
        self.batch_sizes: Callable[[int], None] = lambda _: None  # metrics hook

    async def predict(self, matrix: Array, output: str) -> Array:
        loop = asyncio.get_running_loop()
        if self._max_rows <= 1:
            return await loop.run_in_executor(self._executor, self._predict, matrix, output)
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run())
        pending = _Pending(matrix, output, loop.create_future())
        self._queue.put_nowait(pending)
        return await pending.future

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            first = self._held.popleft() if self._held else await self._queue.get()
            batch = [first]
            rows = first.matrix.shape[0]
            held: list[_Pending] = []
            candidates = [*self._held, *self._drain_queue()]
            self._held.clear()
            for item in candidates:
                fits = rows + item.matrix.shape[0] <= self._max_rows
                if item.output == first.output and fits:
                    batch.append(item)
                    rows += item.matrix.shape[0]
                else:
                    held.append(item)
            self._held.extend(held)  # in arrival order, ahead of anything queued later
            try:
                await self._serve(batch)
            except Exception as exc:  # never leave a request waiting on a dead worker
                log.exception("batch failed outside the model call")
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)

    def _drain_queue(self) -> list[_Pending]:
        items: list[_Pending] = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def _serve(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        output = batch[0].output
        live = [p for p in batch if not p.future.done()]  # a cancelled client needs no answer
        if not live:
            return
        self.batch_sizes(sum(p.matrix.shape[0] for p in live))
        if len(live) == 1:
            await self._serve_one(live[0])
            return
        try:
            stacked = np.concatenate([p.matrix for p in live])
            result = await loop.run_in_executor(self._executor, self._predict, stacked, output)
        except Exception:
            for pending in live:  # isolate the request that broke the batch
                await self._serve_one(pending)
            return
        offset = 0
        for pending in live:
            n = pending.matrix.shape[0]
            if not pending.future.done():
                pending.future.set_result(result[offset : offset + n])
            offset += n

    async def _serve_one(self, pending: _Pending) -> None:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                self._executor, self._predict, pending.matrix, pending.output
            )
        except Exception as exc:
            if not pending.future.done():
                pending.future.set_exception(exc)
            return
        if not pending.future.done():
            pending.future.set_result(result)
