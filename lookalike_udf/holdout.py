"""The holdout split of an audience (issue 30, decision 0028), in Python.

The SQL macro ``lookalike_holdout_bucket`` (macros/lookalike_holdout.sql) flags a user of a run's
audience ``is_holdout`` when its bucket is below ``audience_holdout_pct * 100``. This is the same
formula, for checking a table and for notebooks that split outcomes the same way.

>>> holdout_bucket("spring_sale", "0042")
8298
>>> is_holdout("spring_sale", "0042", 90.0), is_holdout("spring_sale", "0042", 80.0)
(True, False)
"""

from __future__ import annotations

import hashlib

__all__ = ["holdout_bucket", "is_holdout"]


def holdout_bucket(run_id: str, user_id: str) -> int:
    """0..9999: int(first 8 hex digits of md5(len(run_id) ':' run_id user_id)) mod 10000."""
    text = f"{len(run_id)}:{run_id}{user_id}"
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % 10_000


def is_holdout(run_id: str, user_id: str, holdout_pct: float) -> bool:
    """Whether the user is in the run's holdout group at ``holdout_pct`` %."""
    return holdout_bucket(run_id, user_id) < holdout_pct * 100
