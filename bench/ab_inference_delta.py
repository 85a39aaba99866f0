"""Same-session A/B of the inference side of the bench's `delta` step: for each checkout, a
features-only build (+int_lookalike__population_feature_hashes) on the generated inputs, then the
bench's 1 % new snapshots, then the same selection again; per-model seconds from run_results.json.
Checkouts alternate (A B A B) so both see the same load. Also checks that both give the same
lookalike_inference_features rows (checksum) and records the build state's actions.

    python bench/ab_inference_delta.py SCALE REPEATS BASE_CHECKOUT BRANCH_CHECKOUT WORKDIR
"""

import json
import os
import shutil
import sys
import time
from pathlib import Path

import duckdb

scale, reps = sys.argv[1], int(sys.argv[2])
checkouts = {"base": Path(sys.argv[3]), "branch": Path(sys.argv[4])}
work = Path(sys.argv[5]) / scale
work.mkdir(parents=True, exist_ok=True)
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402
from generate import generate  # noqa: E402

pristine = work / "pristine.duckdb"
if not pristine.exists():
    generate(pristine, scale, 7)
SELECT = ("run", "--select", "+int_lookalike__population_feature_hashes")
MODELS = [
    "int_lookalike__user_snapshots",
    "int_lookalike__inference_snapshots",
    "lookalike_inference_features",
    "int_lookalike__population_feature_hashes",
]
out = []
for k in range(reps):
    for name, root in checkouts.items():
        bench.ROOT = root
        os.environ["PYTHONPATH"] = str(root)
        d = work / f"{name}-{k}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        db = d / "ours.duckdb"
        shutil.copy(pristine, db)
        first = bench.dbt_build(db, d, scale, "first", SELECT)
        changed = bench.change_one_percent_of_users(db)
        delta = bench.dbt_build(db, d, scale, "delta", SELECT)
        row = {
            "checkout": name,
            "rep": k,
            "users_changed": changed,
            "first_model_s": {m: first["model_s"].get(m) for m in MODELS},
            "delta_model_s": {m: delta["model_s"].get(m) for m in MODELS},
            "first_wall_s": first["wall_s"],
            "delta_wall_s": delta["wall_s"],
            "at": time.strftime("%H:%M:%S"),
        }
        print(json.dumps(row), flush=True)
        out.append(row)
        # The checkouts must agree: same rows in the feature table (public).
        with duckdb.connect(str(db), read_only=True) as con:
            row["features_checksum"] = con.execute(
                "select count(*), sum(hash(t)) from (select * exclude (as_of_at) from lookalike_inference_features) t"
            ).fetchone()
            row["actions"] = dict(
                con.execute(
                    "select string_split(relation_name, '.')[-1], action from (select *, row_number() over (partition by relation_name order by recorded_at desc) n from lookalike_build_state) where n = 1"
                ).fetchall()
            )
        print(
            json.dumps({"checksum": row["features_checksum"], "actions": {m: row["actions"].get(m) for m in MODELS}}),
            flush=True,
        )
        db.unlink()
(work / "results.json").write_text(json.dumps(out, indent=1, default=str))
