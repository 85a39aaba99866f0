"""Time the library on ``PYTHONPATH`` scoring the ``bench/kernel.py`` ensemble once, without refitting
it, so two checkouts can be alternated within a minute on a shared machine (decision 0044).

    PYTHONPATH=. python bench/kernel_ab.py --write-payload /tmp/kernel-payload.json
    for lib in /work/main $PWD /work/main $PWD; do
        PYTHONPATH=$lib nice -n 10 python bench/kernel_ab.py --payload /tmp/kernel-payload.json --rows 1000000
    done

Prints one JSON line: the library's path, seconds and core-ns per tree-row of
``BaggingScorer(engine="kernel").predict_proba_positive(X, n_threads=1)`` on ``make_matrix(rows, 30,
categorical, seed=7, levels)``, whether the members were fused, the load average before and after, and
(``--save``) writes the scores for comparison. Categorical members (decision 0046), for example::

    PYTHONPATH=. python bench/kernel_ab.py --write-payload /tmp/cat.json --categorical 6 --levels 4,5,6,7,8,9
    PYTHONPATH=$lib python bench/kernel_ab.py --payload /tmp/cat.json --categorical 6 --levels 4,5,6,7,8,9 --rows 200000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payload", help="the ensemble written by --write-payload")
    parser.add_argument("--write-payload", help="fit bench/kernel.py's ensemble and write it here")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--save", help="write the scores to this .npy file")
    parser.add_argument("--categorical", type=int, default=0, help="as bench/kernel.py (the same for both modes)")
    parser.add_argument("--levels", help="as bench/kernel.py, e.g. 4,5,6,7,8,9 (the same for both modes)")
    args = parser.parse_args(argv)
    from kernel import bagging_payload, fit_members, make_matrix

    levels = [int(v) for v in args.levels.split(",")] if args.levels else None
    if args.write_payload:
        with open(args.write_payload, "w", encoding="utf-8") as handle:
            json.dump(bagging_payload(fit_members(30, args.categorical, levels=levels)), handle)
        return {}
    import lookalike_udf
    from lookalike_udf.estimators import bagging

    with open(args.payload, encoding="utf-8") as handle:
        payload = json.load(handle)
    scorer = bagging.load(payload, engine="kernel")
    n_trees = sum(len(m["trees"]) for m in payload["members"])
    X = make_matrix(args.rows, 30, args.categorical, seed=7, levels=levels)
    scorer.predict_proba_positive(X[:1000], n_threads=1)  # compiles
    before = os.getloadavg()
    started = time.perf_counter()
    out = scorer.predict_proba_positive(X, n_threads=1)
    seconds = time.perf_counter() - started
    result = {
        "lib": os.path.dirname(lookalike_udf.__file__),
        "rows": args.rows,
        "categorical": args.categorical,
        "levels": levels,
        "fused": getattr(scorer, "_fused", None) is not None,
        "seconds": round(seconds, 3),
        "core_ns_per_tree_row": round(seconds * 1e9 / (args.rows * n_trees), 2),
        "load_before": list(before),
        "load_after": list(os.getloadavg()),
    }
    if args.save:
        np.save(args.save, out)
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
