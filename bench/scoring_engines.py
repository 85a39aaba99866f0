"""Benchmark the population-scoring engines (issue 13, item 6): the Python scorer, the compiled
SQL (``lookalike_udf.sql.to_sql``) run in DuckDB, and orbital 0.6 on the same scikit-learn
estimator, for hgb (library defaults), rf, logistic and a 20-member bagging PU ensemble of hgb.

Run::

    PYTHONPATH=. python bench/scoring_engines.py --rows 1000000          # about 15 minutes
    PYTHONPATH=. python bench/scoring_engines.py --rows 20000 --repeat 1 # the small mode

Data (seeded, :func:`make_rows`): ``user_id`` plus 80 features: 60 numbers (normal, lognormal,
counts; 2-30 % NULL, one column with NaN values too), 10 text columns (NULLs, and 2 % of the
population holds values never seen in training), 10 booleans (5 % NULL). The training set
(4,000 rows, another seed) carries a planted signal on 12 numbers, 2 categories and 2 flags.
The population is a table in a DuckDB file; every engine reads it from there.

Models are fitted through :func:`lookalike_udf.training.fit_run_model` (supervised for hgb, rf,
logistic; bagging PU with 20 members for ``bagging20``). orbital gets the same scikit-learn
estimator fitted on the same encoded matrix (identical trees for rf, the library's own pipeline
for logistic) and reads the encoded features from a view of our SQL encoder layer, so both SQL
engines do the same work from the raw table. orbital cannot convert HistGradientBoosting (see
/work/shared/NOTES.md), so hgb and bagging20 have no orbital column.

Each (model, engine, repetition) runs in its own subprocess (``_worker``), which reports its own
peak RSS (``VmHWM`` of /proc/self/status) and the wall time of the scoring statement:

- python: ``LookalikeModel.predict`` over Arrow batches of 100k read from DuckDB, streamed into
  ``create table scored as select * from <reader>`` (what dbt-duckdb does with the dbt model's
  stream);
- sql: ``to_sql(model, 'pop.population', dialect='duckdb')`` (compile time reported apart),
  executed as ``create table scored as <sql>``;
- orbital: ``parse_pipeline`` + ``export_sql`` (compile), then ``create table scored as <sql>``.

Scores of the first repetition are written to Parquet and compared with the Python scorer's
(max |difference|, joined on ``user_id``). Results go to ``<workdir>/results.json`` and a
Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
N_NUMERIC, N_CATEGORICAL, N_BOOLEAN = 60, 10, 10
MODELS = ("hgb", "rf", "logistic", "bagging20")
ENGINES = ("python", "sql", "orbital")
ORBITAL_TYPES = ("rf", "logistic")  # orbital 0.6 cannot convert HistGradientBoosting
BATCH = 100_000
CHUNK = 100_000
SEED = 13


# --- Data ------------------------------------------------------------------------------------


def _category_values(j: int) -> list[str]:
    return [f"c{j}_{v:02d}" for v in range(4 + 3 * j)]


def make_rows(n: int, seed: int, start: int = 0, unseen_rate: float = 0.02) -> tuple[pa.Table, np.ndarray]:
    """``n`` rows (ids from ``start``) and their planted log-odds; deterministic in (n, seed, start)."""
    rng = np.random.default_rng([seed, start])
    cols: dict[str, pa.Array] = {"user_id": pa.array(np.arange(start, start + n, dtype=np.int64))}
    logit = np.full(n, -0.3)
    for j in range(N_NUMERIC):
        kind = j % 3
        if kind == 0:
            x = rng.normal(size=n)
        elif kind == 1:
            x = rng.lognormal(mean=0.0, sigma=1.0, size=n)
        else:
            x = rng.poisson(2 + j % 7, size=n).astype(np.float64)
        if j < 12:  # the planted signal
            z = (x - x.mean()) / (x.std() or 1.0)
            logit += (0.6 if j % 2 == 0 else -0.4) * z * (1.0 if j < 6 else 0.5)
        missing = rng.random(n) < 0.02 + 0.28 * (j % 10) / 9
        if j == 1:  # NaN (not NULL) values too: both must count as missing
            x = x.copy()
            x[rng.random(n) < 0.03] = np.nan
        if kind == 2:
            cols[f"num_{j:02d}"] = pa.array(x.astype(np.int64), mask=missing)
        else:
            cols[f"num_{j:02d}"] = pa.array(x, mask=missing)
    for j in range(N_CATEGORICAL):
        values = _category_values(j)
        p = 1.0 / np.arange(1, len(values) + 1)
        idx = rng.choice(len(values), size=n, p=p / p.sum())
        text = np.array(values, dtype=object)[idx]
        if j < 2:
            logit += np.where(idx % 3 == 0, 0.7, -0.2)
        unseen = rng.random(n) < unseen_rate
        text[unseen] = np.array([f"new_{j}_{k}" for k in range(5)], dtype=object)[rng.integers(0, 5, unseen.sum())]
        cols[f"cat_{j}"] = pa.array(text, type=pa.string(), mask=rng.random(n) < 0.05 + 0.01 * j)
    for j in range(N_BOOLEAN):
        b = rng.random(n) < 0.2 + 0.06 * j
        if j < 2:
            logit += np.where(b, 0.8, 0.0)
        cols[f"flag_{j}"] = pa.array(b, mask=rng.random(n) < 0.05)
    return pa.table(cols), logit


def write_population(path: Path, rows: int, seed: int = SEED) -> None:
    import duckdb

    if path.exists():
        path.unlink()
    with duckdb.connect(str(path)) as con:
        for start in range(0, rows, CHUNK):
            chunk, _ = make_rows(min(CHUNK, rows - start), seed, start)
            if start == 0:
                con.execute("create table population as select * from chunk")
            else:
                con.execute("insert into population select * from chunk")
        con.execute("checkpoint")


def training_examples(n: int = 4_000, seed: int = SEED + 1, positive_unlabeled: bool = False) -> pa.Table:
    """Training examples with labels drawn from the planted log-odds (ids far from the population's).

    ``positive_unlabeled``: 1,000 positives against 3,000 unlabeled users (label 0,
    ``example_source = 'unlabeled_sample'``), the shape of a run without negatives.
    """
    table, logit = make_rows(n, seed, start=10**9, unseen_rate=0.0)
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    source = np.where(y == 1, "seed", "labeled_negative").astype(object)
    if positive_unlabeled:
        pos = np.flatnonzero(y == 1)[:1000]
        unl = rng.choice(np.setdiff1d(np.arange(n), pos), size=3000, replace=False)
        keep = np.sort(np.concatenate([pos, unl]))
        table, y = table.take(pa.array(keep)), np.isin(keep, pos).astype(np.int64)
        source = np.where(y == 1, "seed", "unlabeled_sample").astype(object)
    m = table.num_rows
    return (
        table.append_column("example_id", pa.array([f"e{i}" for i in range(m)]))
        .append_column("label", pa.array(y))
        .append_column("weight", pa.array(np.ones(m)))
        .append_column("split", pa.array(["train"] * m))
        .append_column("example_source", pa.array(source.tolist(), type=pa.string()))
    )


# --- Models ----------------------------------------------------------------------------------


def fit_models(workdir: Path, models: list[str]) -> dict:
    """Fit every model with the library's entry point; store its JSON (and the orbital pipeline)."""
    from lookalike_udf.training import fit_run_model

    info = {}
    for name in models:
        t = time.perf_counter()
        if name == "bagging20":
            examples = training_examples(positive_unlabeled=True)
            model = fit_run_model(name, examples, SEED, pu_method="bagging", pu_bags=20, model_type="hgb")
        else:
            examples = training_examples()
            model = fit_run_model(name, examples, SEED, pu_method="plain", model_type=name)
        fit_s = time.perf_counter() - t
        (workdir / f"{name}.json").write_text(model.to_json())
        payload = model.estimator_payload
        members = payload.get("members", [payload])
        trees = sum(len(m.get("trees", [])) for m in members)
        info[name] = {
            "fit_s": fit_s,
            "training_method": model.params["training_method"],
            "members": len(members),
            "trees": trees,
            "n_features": len(model.feature_names),
            "train_rows": examples.num_rows,
        }
        if name in ORBITAL_TYPES:
            pipeline = orbital_pipeline(name, model, examples)
            with open(workdir / f"{name}.orbital.pkl", "wb") as fh:  # our own file, read by our own worker
                pickle.dump(pipeline, fh)
        print(f"fitted {name}: {info[name]}", flush=True)
    return info


def orbital_pipeline(name: str, model, examples: pa.Table):
    """The scikit-learn estimator of ``model`` refitted on the same encoded matrix, as a Pipeline over
    named columns ``f0..`` (plus ``user_id``, dropped by the ColumnTransformer, so orbital can
    project it through). For rf the trees are identical to the stored ones (same data, parameters
    and seed); for logistic it is the library's own pipeline (``logistic.build_pipeline``)."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    from lookalike_udf.estimators import logistic

    X = model.encoder.transform(examples)
    y = examples.column("label").to_numpy()
    names = [f"f{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names)
    frame.insert(0, "user_id", np.arange(len(frame), dtype=np.int64))
    params = model.params
    if name == "rf":
        keys = ("n_estimators", "max_depth", "min_samples_leaf", "max_features", "random_state")
        estimator = RandomForestClassifier(n_jobs=1, **{k: params[k] for k in keys})
        pipeline = Pipeline(
            [("prepare", ColumnTransformer([("x", "passthrough", names)], remainder="drop")), ("model", estimator)]
        )
        pipeline.fit(frame, y)
        # skl2onnx 1.20 loops forever on a +inf threshold (scikit-learn's "missing values go
        # right" split): find_switch_point bisects towards inf and never converges. Every finite
        # float32 is <= FLT_MAX, so FLT_MAX routes finite values the same way; missing values are
        # routed wrongly by orbital anyway (it drops missing_go_to_left, sklearn-onnx #1253).
        for tree in estimator.estimators_:
            threshold = tree.tree_.threshold
            threshold[np.isinf(threshold)] = float(np.finfo(np.float32).max)
    else:
        # The library's pipeline (SimpleImputer(add_indicator=True) + StandardScaler + OneHotEncoder)
        # does not convert: skl2onnx fails on add_indicator (shape mismatch at the scaler) and has no
        # MissingIndicator converter, and orbital's OneHotEncoder needs text categories. So the
        # same design matrix is spelled out: the view supplies the missing indicators (m<j>) and the
        # category codes as text (c<j>, 'nan' when missing); the pipeline imputes and scales the
        # numbers, scales the indicators, one-hot encodes the codes, with the library's
        # LogisticRegression settings.
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        payload = model.estimator_payload
        numeric = [int(c) for c in payload["numeric_columns"]]
        indicators = [numeric[int(p)] for p in payload["indicator_columns"]]
        categorical = [int(c) for c in payload["categorical_columns"]]
        X = np.where(np.isinf(X), np.nan, X)
        frame = pd.DataFrame(
            {
                "user_id": np.arange(len(X), dtype=np.int64),
                **{f"f{j}": X[:, j] for j in numeric},
                **{f"m{j}": np.isnan(X[:, j]).astype(np.float64) for j in indicators},
                **{
                    f"c{j}": np.where(np.isnan(X[:, j]), "nan", np.nan_to_num(X[:, j]).astype(np.int64).astype(str))
                    for j in categorical
                },
            }
        )
        parts = [
            (
                "num",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                [f"f{j}" for j in numeric],
            ),
            ("ind", StandardScaler(), [f"m{j}" for j in indicators]),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), [f"c{j}" for j in categorical]),
        ]
        pipeline = Pipeline(
            [
                ("prepare", ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)),
                ("model", LogisticRegression(**logistic.default_params(SEED))),
            ]
        )
        pipeline.fit(frame, y)
        pipeline.orbital_columns = {"numeric": numeric, "indicators": indicators, "categorical": categorical}
    return pipeline


# --- Engines (run in a worker subprocess) ------------------------------------------------------


def _maxrss_mib() -> float:
    """This process's peak resident set (VmHWM). Not getrusage's ru_maxrss: Linux carries the
    parent's high-water mark across fork/vfork + exec into it, so every worker reported at least
    the orchestrator's RSS (931-1060 MiB whatever the engine, in the first M run)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _encoded_view_sql(model_json: str, columns: dict | None) -> str:
    """Our SQL encoder layer as a view over the population: ``user_id`` and ``f<j>`` (DOUBLE) for
    every feature; with ``columns`` (logistic) ``f<j>`` for its numbers, ``m<j>`` missing
    indicators and ``c<j>`` category codes as text instead."""
    from lookalike_udf.sql import encode_feature, parse_encoder

    features = parse_encoder(json.loads(model_json)["encoder"])
    enc = [encode_feature(f, "duckdb").sql(dialect="duckdb") for f in features]
    if columns is None:
        cols = [f"CAST({e} AS DOUBLE) AS f{j}" for j, e in enumerate(enc)]
    else:
        cols = [f"CAST({enc[j]} AS DOUBLE) AS f{j}" for j in columns["numeric"]]
        cols += [
            f"CASE WHEN ({enc[j]}) IS NULL OR isinf({enc[j]}) THEN 1.0 ELSE 0.0 END AS m{j}"
            for j in columns["indicators"]
        ]
        cols += [f"COALESCE(CAST({enc[j]} AS VARCHAR), 'nan') AS c{j}" for j in columns["categorical"]]
    return f"SELECT user_id, {', '.join(cols)} FROM pop.population"


def run_engine(engine: str, model_name: str, workdir: Path, db: Path, dump: bool) -> dict:
    import duckdb

    model_json = (workdir / f"{model_name}.json").read_text()
    con = duckdb.connect()
    con.execute(f"attach '{db}' as pop (read_only)")
    n_rows = con.execute("select count(*) from pop.population").fetchone()[0]
    rss_ready = _maxrss_mib()
    out: dict = {"engine": engine, "model": model_name, "rows": n_rows}
    if engine == "python":
        from lookalike_udf.scoring import LookalikeModel

        t = time.perf_counter()
        model = LookalikeModel.from_json(model_json)  # prepare: load and one warm-up row (lazy imports)
        model.predict(con.cursor().sql("select * from pop.population limit 1").to_arrow_table())
        out["compile_s"] = time.perf_counter() - t
        t = time.perf_counter()
        reader = con.cursor().sql("select * from pop.population").to_arrow_reader(BATCH)
        schema = pa.schema([("user_id", pa.int64()), ("score", pa.float64())])

        def batches():
            for batch in reader:
                yield pa.record_batch([batch.column(0), pa.array(model.predict(batch))], schema=schema)

        stream = pa.RecordBatchReader.from_batches(schema, batches())  # noqa: F841 (read by DuckDB)
        con.execute("create table scored as select * from stream")
        out["run_s"] = time.perf_counter() - t
    elif engine == "sql":
        from lookalike_udf.sql import to_sql

        t = time.perf_counter()
        sql = to_sql(model_json, "pop.population", dialect="duckdb")
        out["compile_s"] = time.perf_counter() - t
        out["sql_kib"] = len(sql.encode()) / 1024
        t = time.perf_counter()
        con.execute(f"create table scored as {sql}")
        out["run_s"] = time.perf_counter() - t
    elif engine == "orbital":
        import orbital
        import orbital.types as otypes

        with open(workdir / f"{model_name}.orbital.pkl", "rb") as fh:
            pipeline = pickle.load(fh)
        columns = getattr(pipeline, "orbital_columns", None)
        con.execute(f"create view encoded as {_encoded_view_sql(model_json, columns)}")
        features = {"user_id": otypes.Int64ColumnType()}
        for name in pipeline.named_steps["prepare"].feature_names_in_:
            if name != "user_id":
                features[name] = otypes.StringColumnType() if name.startswith("c") else otypes.DoubleColumnType()
        t = time.perf_counter()
        parsed = orbital.parse_pipeline(pipeline, features=features)
        sql = orbital.export_sql("encoded", parsed, dialect="duckdb")  # passes user_id through
        out["compile_s"] = time.perf_counter() - t
        out["sql_kib"] = len(sql.encode()) / 1024
        t = time.perf_counter()
        con.execute(f"create table scored_raw as {sql}")
        out["run_s"] = time.perf_counter() - t
        # orbital returns a label and a {0: p0, 1: p1} struct; keep the positive probability.
        prob = [
            c
            for (c,) in con.execute("select column_name from (describe scored_raw)").fetchall()
            if c.startswith("output_probability")
        ]
        col = f'"{prob[0]}"' if len(prob) == 1 else None
        if col is not None and con.execute(f"select typeof({col}) from scored_raw limit 1").fetchone()[0].startswith(
            "STRUCT"
        ):
            col = f'{col}."1"'
        elif col is None:
            col = '"output_probability.1"'
        con.execute(f"create table scored as select user_id, {col} as score from scored_raw")
    else:
        raise ValueError(engine)
    out["rss_ready_mib"] = rss_ready
    out["peak_rss_mib"] = _maxrss_mib()
    if dump:
        con.execute(f"copy scored to '{workdir / f'scores-{model_name}-{engine}.parquet'}' (format parquet)")
    return out


def measure(engine: str, model_name: str, workdir: Path, db: Path, repeat: int) -> dict:
    runs = []
    for r in range(repeat):
        load = os.getloadavg()[0]
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "_worker",
            engine,
            model_name,
            str(workdir),
            str(db),
            "1" if r == 0 else "0",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if proc.returncode != 0:
            return {"engine": engine, "model": model_name, "error": proc.stderr.strip().splitlines()[-1:]}
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["load_before"] = load
        runs.append(result)
        print(
            f"  {model_name:10s} {engine:8s} rep {r}: run {result['run_s']:.2f} s"
            + (f", compile {result['compile_s']:.2f} s" if "compile_s" in result else "")
            + f", peak {result['peak_rss_mib']:.0f} MiB, load {load:.2f}",
            flush=True,
        )
    summary = {
        "engine": engine,
        "model": model_name,
        "repetitions": runs,
        "run_s": statistics.median(r["run_s"] for r in runs),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "rss_ready_mib": max(r["rss_ready_mib"] for r in runs),
        "load": [round(r["load_before"], 2) for r in runs],
    }
    for key in ("compile_s", "sql_kib"):
        if key in runs[0]:
            summary[key] = statistics.median(r[key] for r in runs)
    return summary


def max_abs_diff(workdir: Path, model_name: str, engine: str) -> float | None:
    import duckdb

    ours, ref = workdir / f"scores-{model_name}-{engine}.parquet", workdir / f"scores-{model_name}-python.parquet"
    if not (ours.exists() and ref.exists()):
        return None
    with duckdb.connect() as con:
        n_ref, n_joined, diff = con.execute(
            f"select (select count(*) from '{ref}'), count(*), max(abs(a.score - b.score)) "
            f"from '{ours}' a join '{ref}' b using (user_id)"
        ).fetchone()
        if n_joined != n_ref:
            return float("inf")
        return float(diff)


def render(results: dict) -> str:
    lines = []
    for name in results["models"]:
        m = results["fit"][name]
        lines.append(
            f"\n### {name}: {m['members']} member(s), {m['trees']} trees, {m['n_features']} features "
            f"({m['training_method']}, {m['train_rows']} training rows)\n"
        )
        lines.append(
            "| engine | scoring wall, median (s) | runs (s) | prepare (s) | SQL (KiB) | peak RSS (MiB) "
            "| max abs diff vs Python | load avg before runs |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in results["engines"]:
            if r["model"] != name:
                continue
            if "error" in r:
                lines.append(f"| {r['engine']} | failed: {' '.join(r['error'])} | | | | | | |")
                continue
            diff = r.get("max_abs_diff")
            lines.append(
                f"| {r['engine']} | {r['run_s']:.2f} | {' / '.join(format(x['run_s'], '.2f') for x in r['repetitions'])} | "
                f"{r['compile_s']:.2f} | {format(r['sql_kib'], '.0f') if 'sql_kib' in r else '-'} | "
                f"{r['peak_rss_mib']:.0f} | {'' if diff is None else f'{diff:.1e}'} | "
                f"{' / '.join(format(x, '.2f') for x in r['load'])} |"
            )
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--workdir", default="/tmp/lookalike-scoring-bench")
    parser.add_argument("--reuse-data", action="store_true", help="keep an existing population file of the same size")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    models = [m for m in args.models.split(",") if m]
    engines = [e for e in args.engines.split(",") if e]
    if "orbital" in engines:
        try:
            import orbital  # noqa: F401
        except ImportError:
            print("orbital is not installed (pip install -e '.[bench]'); skipping its column", flush=True)
            engines.remove("orbital")
    db = workdir / f"population-{args.rows}.duckdb"
    t = time.perf_counter()
    if not (args.reuse_data and db.exists()):
        write_population(db, args.rows)
    print(f"population: {args.rows} rows in {time.perf_counter() - t:.1f} s ({db})", flush=True)
    for stale in workdir.glob("scores-*.parquet"):
        stale.unlink()
    results = {
        "rows": args.rows,
        "repeat": args.repeat,
        "models": models,
        "cpus": os.cpu_count(),
        "load_start": os.getloadavg(),
        "fit": fit_models(workdir, models),
        "engines": [],
    }
    for name in models:
        for engine in engines:  # python first: it is the reference for the differences
            if engine == "orbital" and name not in ORBITAL_TYPES:
                continue
            r = measure(engine, name, workdir, db, args.repeat)
            if engine != "python" and "error" not in r:
                r["max_abs_diff"] = max_abs_diff(workdir, name, engine)
            results["engines"].append(r)
    results["load_end"] = os.getloadavg()
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    print(render(results))
    return results


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        engine, model_name, workdir, db, dump = sys.argv[2:7]
        print(json.dumps(run_engine(engine, model_name, Path(workdir), Path(db), dump == "1")))
    else:
        main()
