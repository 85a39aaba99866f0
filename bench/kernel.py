"""Benchmark the compiled scoring kernel (issue 27 part 1, decision 0027): core-ns per tree-row of
a 20-member bagging ensemble of ~250 depth-3 HGB trees, for

- ``predict_proba``: scikit-learn's own ``HistGradientBoostingClassifier.predict_proba`` of every
  member, averaged (its OpenMP threads limited with threadpoolctl);
- ``library-sklearn``: the library's scorer before the kernel (scikit-learn's tree predictors on
  blocks of 16,384 rows run side by side, :class:`~lookalike_udf.estimators.bagging.BaggingScorer`
  with ``engine="sklearn"``);
- ``kernel``: the same scorer with the numba kernel (``engine="kernel"``);
- ``sql`` (``--sql``): the members compiled to SQL (:mod:`lookalike_udf.sql`) and run in DuckDB
  (``SET threads``) over the same matrix as a table, ``create table ... as select``.

Each at 1 and 2 threads, ``--repeat`` times (the median is reported; ``--skip-library``,
``--skip-predict-proba``, ``--predict-proba-repeat`` and ``--predict-proba-threads`` leave out or
shorten the slow references). The load average is recorded at the start and after each engine. core-ns per tree-row =
wall seconds x threads x 1e9 / (rows x trees of all members). The kernel's scores are compared
with the members' mean ``predict_proba`` (max |difference|; 0 means bit-identical), else with
``library-sklearn``; the first thread count that ran either is the reference for all.

Run (wait for a quiet machine: ``pgrep -f "bench/run.py|pytest"`` prints nothing)::

    PYTHONPATH=. python bench/kernel.py --rows 200000 --repeat 3 --sql
    PYTHONPATH=. python bench/kernel.py --rows 1000000 --repeat 3
    PYTHONPATH=. python bench/kernel.py --rows 200000 --categorical 3   # walk path too
    PYTHONPATH=. python bench/kernel.py --rows 200000 --categorical 6 --levels 4,5,6,7,8,9  # like the bench data

Data (seeded): ``--features`` columns, normal and lognormal numbers with 5 % NaN in a third of them;
``--categorical`` of them are category codes 0..11 (declared categorical to scikit-learn; ``--levels``
sets their numbers of categories and makes each of them carry signal, so most trees split on one). Each
member is fitted on 4,000 rows (another seed) with early stopping off and ``max_iter`` 250, depth 3,
8 leaves, learning rate 0.05, L2 10 (the library's default shape).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

MEMBERS, TREES = 20, 250


def make_matrix(n: int, n_features: int, n_categorical: int, seed: int, levels: list[int] | None = None) -> np.ndarray:
    """``levels``: the number of categories of each categorical column (default 12 each)."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, n_features), dtype=np.float64)
    for j in range(n_features):
        if j < n_categorical:
            X[:, j] = rng.integers(0, levels[j % len(levels)] if levels else 12, n)
        elif j % 2:
            X[:, j] = rng.normal(size=n)
        else:
            X[:, j] = rng.lognormal(size=n)
        if j % 3 == 0:
            X[rng.random(n) < 0.05, j] = np.nan
    return X


def fit_members(
    n_features: int, n_categorical: int, members: int = MEMBERS, trees: int = TREES, levels: list[int] | None = None
):
    from sklearn.ensemble import HistGradientBoostingClassifier

    classifiers = []
    for m in range(members):
        X = make_matrix(4_000, n_features, n_categorical, seed=1_000 + m, levels=levels)
        signal = np.nan_to_num(X[:, n_categorical:]).dot(np.linspace(-1, 1, n_features - n_categorical))
        if n_categorical:
            signal += np.isin(X[:, 0], [1, 4, 7])
        if levels:  # every categorical column carries signal, as the bench data's text columns do
            for j in range(n_categorical):
                signal += 1.5 * (X[:, j] == j % levels[j % len(levels)]) - 0.8 * (X[:, j] == 1)
        y = (np.random.default_rng(m).random(len(X)) < 1 / (1 + np.exp(-signal / 3))).astype(int)
        mask = [j < n_categorical for j in range(n_features)] if n_categorical else None
        clf = HistGradientBoostingClassifier(
            categorical_features=mask,
            max_iter=trees,
            max_depth=3,
            max_leaf_nodes=8,
            learning_rate=0.05,
            l2_regularization=10.0,
            min_samples_leaf=20,
            early_stopping=False,
            random_state=m,
        ).fit(X, y)
        classifiers.append(clf)
    return classifiers


def bagging_payload(classifiers) -> dict:
    from lookalike_udf.estimators import bagging, hgb

    members = [json.loads(json.dumps(hgb.dump(c), allow_nan=False)) for c in classifiers]
    return bagging.dump(members, seed=0, thresholds=[0] * len(members), bag_size=1)


def timed(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, out


def sql_scores(payload: dict, X: np.ndarray, threads: int, repeat: int):
    """The members as DuckDB SQL over a table of the matrix (features f0.. as double columns)."""
    import duckdb
    import pyarrow as pa
    from sqlglot import exp

    from lookalike_udf.estimators import bagging
    from lookalike_udf.sql._common import balanced_sum, logistic, number, paren
    from lookalike_udf.sql.compiler import _select
    from lookalike_udf.sql.encoder import column

    names = [f"f{j}" for j in range(X.shape[1])]
    started = time.perf_counter()
    members = bagging.to_sql(payload, [column(n) for n in names])
    query = exp.Select(expressions=[column("row_id")] + [column(n) for n in names]).from_("population")
    raws = [(m.raw(), f"m{k}") for k, m in enumerate(members)]
    query = _select(["row_id"], raws, query, "encoded")
    score = exp.Div(
        this=paren(balanced_sum([logistic(column(name)) for _, name in raws])), expression=number(float(len(raws)))
    )
    sql = _select(["row_id"], [(score, "score")], query, "members").sql(dialect="duckdb")
    compile_seconds = time.perf_counter() - started
    # The compiled SQL reads encoded features, where a missing value is NULL (never NaN).
    table = pa.table(
        {"row_id": np.arange(len(X)), **{n: pa.array(X[:, j], mask=np.isnan(X[:, j])) for j, n in enumerate(names)}}
    )
    with duckdb.connect() as con:
        con.execute(f"set threads = {threads}")
        con.register("arrow_population", table)
        con.execute("create table population as select * from arrow_population")

        def run():
            con.execute("create or replace table scored as " + sql)
            return con.execute("select score from scored order by row_id").fetchnumpy()["score"]

        seconds, times, scores = timed(run, repeat)
    return seconds, times, scores, compile_seconds


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--categorical", type=int, default=0)
    parser.add_argument(
        "--levels",
        help="categories of each categorical column, comma-separated, cycled (default 12 each; the bench "
        "data's text columns: --categorical 6 --levels 4,5,6,7,8,9)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--sql", action="store_true", help="also time the compiled SQL in DuckDB")
    parser.add_argument("--skip-predict-proba", action="store_true")
    parser.add_argument("--skip-library", action="store_true", help="do not time engine='sklearn'")
    parser.add_argument(
        "--predict-proba-repeat", type=int, help="repetitions of predict_proba (default --repeat; it is the slow one)"
    )
    parser.add_argument(
        "--predict-proba-threads", help="thread counts at which predict_proba runs (default: every --threads)"
    )
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    from lookalike_udf.estimators import bagging

    started = time.perf_counter()
    levels = [int(v) for v in args.levels.split(",")] if args.levels else None
    classifiers = fit_members(args.features, args.categorical, levels=levels)
    fit_seconds = time.perf_counter() - started
    payload = bagging_payload(classifiers)
    n_trees = sum(len(m["trees"]) for m in payload["members"])
    X = make_matrix(args.rows, args.features, args.categorical, seed=7, levels=levels)

    started = time.perf_counter()
    kernel = bagging.load(payload, engine="kernel")
    load_seconds = time.perf_counter() - started
    flats = [m._flat for m in kernel.members]
    padded = sum(int((f.kind != 0).sum()) for f in flats)
    categorical_trees = sum(int((f.kind == 2).sum()) for f in flats)
    started = time.perf_counter()
    kernel.predict_proba_positive(X[:1000], n_threads=1)  # compiles the kernel
    compile_seconds = time.perf_counter() - started
    library = bagging.load(payload, engine="sklearn")

    def per_tree_row(seconds, threads):
        return seconds * threads * 1e9 / (args.rows * n_trees)

    results = {
        "rows": args.rows,
        "features": args.features,
        "categorical": args.categorical,
        "members": len(payload["members"]),
        "trees": n_trees,
        "levels": levels,
        "padded_trees": padded,
        "trees_with_categorical_split": categorical_trees,
        "fused": getattr(kernel, "_fused", None) is not None,
        "fit_seconds": round(fit_seconds, 1),
        "kernel_load_seconds": round(load_seconds, 2),
        "kernel_compile_seconds": round(compile_seconds, 2),
        "repeat": args.repeat,
        "engines": {},
    }
    reference = None
    pp_threads = args.predict_proba_threads or args.threads
    pp_threads = {int(t) for t in pp_threads.split(",")}
    results["load_average_start"] = list(os.getloadavg())
    for threads in [int(t) for t in args.threads.split(",")]:
        with threadpool_limits(limits=threads, user_api="openmp"):
            runs = {"kernel": lambda t=threads: kernel.predict_proba_positive(X, n_threads=t)}
            if not args.skip_library:
                runs["library-sklearn"] = lambda t=threads: library.predict_proba_positive(X, n_threads=t)
            if not args.skip_predict_proba and threads in pp_threads:
                runs["predict_proba"] = lambda: np.mean([c.predict_proba(X)[:, 1] for c in classifiers], axis=0)
            outputs = {}
            for name, fn in runs.items():
                repeat = (
                    args.predict_proba_repeat if name == "predict_proba" and args.predict_proba_repeat else args.repeat
                )
                seconds, times, outputs[name] = timed(fn, repeat)
                results["engines"][f"{name}@{threads}"] = {
                    "seconds": round(seconds, 3),
                    "all_seconds": [round(t, 3) for t in times],
                    "core_ns_per_tree_row": round(per_tree_row(seconds, threads), 2),
                }
                results["engines"][f"{name}@{threads}"]["load_average_after"] = list(os.getloadavg())
                print(name, threads, results["engines"][f"{name}@{threads}"], flush=True)
            if reference is None:
                for name in ("predict_proba", "library-sklearn"):
                    if name in outputs:
                        reference, results["reference"] = outputs[name], f"{name}@{threads}"
                        break
            for name, out in outputs.items():
                diff = None if reference is None else float(np.max(np.abs(out - reference)))
                results["engines"][f"{name}@{threads}"]["max_abs_diff"] = diff
        if args.sql:
            seconds, times, scores, sql_compile = sql_scores(payload, X, threads, args.repeat)
            results["engines"][f"sql-duckdb@{threads}"] = {
                "seconds": round(seconds, 3),
                "all_seconds": [round(t, 3) for t in times],
                "core_ns_per_tree_row": round(per_tree_row(seconds, threads), 2),
                "max_abs_diff": float(np.max(np.abs(scores - reference))),
                "compile_seconds": round(sql_compile, 2),
            }
            print("sql-duckdb", threads, results["engines"][f"sql-duckdb@{threads}"], flush=True)
    print(json.dumps(results, indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    print()
    print("| engine | threads | seconds (median) | core-ns per tree-row | max abs diff |")
    print("|---|---|---|---|---|")
    for key, value in results["engines"].items():
        name, threads = key.split("@")
        diff = "-" if value["max_abs_diff"] is None else f"{value['max_abs_diff']:.3g}"
        print(f"| {name} | {threads} | {value['seconds']:.3f} | {value['core_ns_per_tree_row']:.2f} | {diff} |")
    return results


if __name__ == "__main__":
    main()
