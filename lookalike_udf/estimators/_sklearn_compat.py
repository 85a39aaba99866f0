"""One guarded fix for scikit-learn's histogram binning, applied only where it is broken.

scikit-learn 1.9 computes a feature's bin thresholds with ``sliding_window_view(distinct, 2)``,
which raises ``ValueError: window shape cannot be larger than input array shape`` when the
feature has no non-missing value (or none with a non-zero weight) in the data being binned. Earlier
versions returned no thresholds, as 1.9 still does for one distinct value: the feature gets no
split. In a bagging PU member, or in the training part of the early-stopping split, a sparse event
feature (days since the last purchase, say) is easily all missing, and the whole run failed.

:func:`ensure_binning_handles_all_missing` checks the installed version's behaviour once and, only
if it raises, wraps the binning function so that such a column gets no thresholds again. Nothing
changes for any other column, and nothing at all on versions without the bug.
"""

from __future__ import annotations

import numpy as np

_checked = False


def _is_broken(find) -> bool:
    try:
        find(np.array([np.nan], dtype=np.float64), 255)
    except ValueError:
        return True
    except Exception:  # pragma: no cover - another signature: leave scikit-learn alone
        return False
    return False


def ensure_binning_handles_all_missing() -> bool:
    """Apply the fix if this scikit-learn needs it; returns whether it is applied."""
    global _checked
    from sklearn.ensemble._hist_gradient_boosting import binning

    find = binning._find_binning_thresholds
    if getattr(find, "_lookalike_all_missing_fix", False):
        return True
    if _checked or not _is_broken(find):
        _checked = True
        return False

    def _find_binning_thresholds(col_data, max_bins, sample_weight=None):
        present = ~np.isnan(col_data)
        if sample_weight is not None:
            present &= np.asarray(sample_weight) != 0
        if not present.any():
            return np.asarray([], dtype=np.float64)
        return find(col_data, max_bins, sample_weight=sample_weight)

    _find_binning_thresholds._lookalike_all_missing_fix = True
    binning._find_binning_thresholds = _find_binning_thresholds
    _checked = True
    return True
