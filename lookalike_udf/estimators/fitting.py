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
