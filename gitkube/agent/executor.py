"""Runs side effects on worker threads: one action per target at a time, never twice at once.

Like client-go's workqueue: a target already in flight is not queued again (the next pass will
see the result and plan anew), and every completion wakes the agent loop so it re-plans at once.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

log = logging.getLogger("gitkube.agent")


class Executor:
    def __init__(self, workers: int, on_done: Callable[[], None]):
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="exec")
        self._in_flight: set[str] = set()
        self._finished: dict[str, float] = {}  # target -> time.time() its last job ended
        self._lock = threading.Lock()
        self._on_done = on_done

    def busy(self, target: str) -> bool:
        with self._lock:
            return target in self._in_flight

    def stale(self, target: str, observed_at: float) -> bool:
        """True while a job for `target` runs, or if one ended after `observed_at`: what was
        observed of it may predate what the job did."""
        with self._lock:
            return target in self._in_flight or self._finished.get(target, 0.0) > observed_at

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def submit(self, target: str, fn: Callable[[], None], describe: str = "") -> bool:
        """Queue `fn` unless `target` is already being worked on; returns whether it was queued."""
        with self._lock:
            if target in self._in_flight:
                return False
            self._in_flight.add(target)
        future = self._pool.submit(fn)
        future.add_done_callback(lambda f: self._finish(target, f, describe))
        return True

    def _finish(self, target: str, future: Future, describe: str) -> None:
        with self._lock:
            self._in_flight.discard(target)
            self._finished[target] = time.time()
            if len(self._finished) > 10_000:  # forget old targets; anything older than a minute is irrelevant
                cutoff = time.time() - 60
                self._finished = {k: v for k, v in self._finished.items() if v > cutoff}
        exc = future.exception()
        if exc is not None:
            log.info("%s failed: %s", describe or target, exc)
        self._on_done()

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
