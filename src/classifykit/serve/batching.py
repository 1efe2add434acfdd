"""Micro-batching: concurrent requests share forward passes.

Each request puts its inputs on one bounded ``asyncio.Queue``; one worker task takes the first
waiting input, gathers more for up to ``max_wait_s`` or until ``max_batch`` inputs (not at all while
no other request is being read, so a lone client pays no wait: :meth:`MicroBatcher.arriving`), runs
the batch in a thread (so the event loop keeps accepting requests) and resolves every input's future. A
request that does not fit in the queue is refused at once (:class:`QueueFull`, answered 503), so
the server's memory and latency stay bounded under overload. ``max_batch=1`` turns batching off
(one forward pass per input, in arrival order), for comparison.

This is the dynamic batching of model servers (e.g. NVIDIA Triton's ``max_queue_delay_microseconds``
and ``preferred_batch_size``), reduced to one queue and one worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

POLL_S = 0.0005  # how often the worker looks for more inputs while it gathers a batch


class QueueFull(Exception):
    """The queue has no room for a request's inputs (answered 503)."""


class MicroBatcher:
    """Runs ``predict_batch(inputs) -> results`` (same length, same order) over gathered inputs.

    Args:
        predict_batch: a blocking function; it runs in a worker thread, one batch at a time.
        max_batch: inputs per forward pass at most (1: no batching).
        max_wait_s: how long the worker waits for more inputs after the first (seconds).
        max_queue: inputs waiting at most.

    Attributes:
        batch_sizes: ``Counter`` of the sizes of the batches run so far (``/health`` shows it).
    """

    def __init__(self, predict_batch: Callable[[list], Sequence[Any]], *, max_batch: int = 32,
                 max_wait_s: float = 0.005, max_queue: int = 256) -> None:
        self.predict_batch = predict_batch
        self.max_batch, self.max_wait_s = max(1, max_batch), max(0.0, max_wait_s)
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=max_queue)
        self.batch_sizes: Counter = Counter()
        self._task: asyncio.Task | None = None
        self._arriving = 0

    @contextlib.contextmanager
    def arriving(self):
        """Around reading and checking a request: while any request is inside, the worker waits for
        its inputs (up to ``max_wait_s``); when none is, a batch runs as soon as the queue is empty."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1

    def start(self) -> None:
        """Start the worker on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Cancel the worker (at shutdown)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def submit(self, inputs: list) -> list:
        """The results of ``inputs``, in order, once their batches ran.

        Raises:
            QueueFull: no room for all of ``inputs`` (nothing is queued then).
            Exception: what ``predict_batch`` raised for a batch holding one of them.
        """
        free = self.queue.maxsize - self.queue.qsize()
        if len(inputs) > free:
            raise QueueFull(f"{self.queue.qsize()} inputs are waiting (at most {self.queue.maxsize}); retry shortly.")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in inputs]
        for item, future in zip(inputs, futures):
            self.queue.put_nowait((item, future))  # no await since the check: nothing else took the room
        return list(await asyncio.gather(*futures))

    async def _gather(self) -> list[tuple[Any, asyncio.Future]]:
        batch = [await self.queue.get()]
        deadline = asyncio.get_running_loop().time() + self.max_wait_s
        while len(batch) < self.max_batch:
            if not self.queue.empty():
                batch.append(self.queue.get_nowait())
            elif self._arriving and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(POLL_S)
            else:
                break
        return batch

    async def _work(self) -> None:
        while True:
            batch = await self._gather()
            live = [(item, f) for item, f in batch if not f.done()]  # a client that left cancelled its futures
            if not live:
                continue
            try:
                results = await asyncio.to_thread(self.predict_batch, [item for item, _ in live])
            except Exception as e:  # the requests of this batch get the error; the worker goes on
                for _, f in live:
                    if not f.done():
                        f.set_exception(e)
                continue
            self.batch_sizes[len(live)] += 1
            for (_, f), result in zip(live, results):
                if not f.done():
                    f.set_result(result)
