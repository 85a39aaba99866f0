"""Helpers for fitting only (never imported when a stored model is loaded or scores)."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

#: Below this many rows a fit runs on one thread: OpenMP start-up and contention with other dbt
#: threads cost more than the parallel work saves (a 40-row fit took 0.04 s on one thread and up
#: to 10 s on two busy cores).
SINGLE_THREAD_ROWS = 50_000


def threads_for(n_rows: int):
    return threadpool_limits(limits=1) if n_rows < SINGLE_THREAD_ROWS else threadpool_limits(limits=None)


def uniform_weights(w: np.ndarray) -> bool:
    """True when every weight is the same (a fit may then pass no weights at all)."""
    return w.size == 0 or bool(np.all(w == w[0]))


def map_side_by_side(fn, items, n_rows: int) -> list:
    """``[fn(item) for item in items]``, in order. When fits of ``n_rows`` rows are single-threaded
    anyway (below :data:`SINGLE_THREAD_ROWS`), the calls run side by side on the scoring threads
    with one OpenMP/BLAS thread each: scikit-learn's fitting loops release the GIL for most of their
    work (20 bagging members: 1.47x faster on 2 cores, issue 17). Each call must be independent and
    seeded, so the results are the same either way."""
    from .hgb import scoring_threads

    items = list(items)
    threads = min(scoring_threads(), len(items))
    if threads > 1 and n_rows < SINGLE_THREAD_ROWS:
        from concurrent.futures import ThreadPoolExecutor

        with threadpool_limits(limits=1), ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(fn, items))
    return [fn(item) for item in items]
