"""Timing shared by the benchmarks: per-call time after a warm-up, and interleaved rounds so
that the candidates see the same machine load. jax is imported lazily: a benchmark may set
XLA_FLAGS (host device count) before jax starts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def time_per_call(fn: Callable, n_calls: int) -> float:
    """Seconds per call of ``fn``, after one warm-up call, waiting for the last result."""
    import jax

    jax.block_until_ready(fn())
    t0 = time.perf_counter()
    for _ in range(n_calls):
        out = fn()
    jax.block_until_ready(out)
    return (time.perf_counter() - t0) / n_calls


def interleaved(fns: dict, n_calls: int, rounds: int = 5) -> dict:
    """The median over ``rounds`` of each candidate's per-call time, candidates alternating."""
    times: dict = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            times[k].append(time_per_call(fn, n_calls))
    return {k: float(statistics.median(v)) for k, v in times.items()}
