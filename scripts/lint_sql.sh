#!/usr/bin/env bash
# SQL house rules (.sqlfluff): sqlfluff with the dbt templater on the models (or on the paths given).
#
#     bash scripts/lint_sql.sh [PATH ...]      # default: dbt_project/models
#
# The dbt templater compiles each model for real, and the models' Jinja reads the database while
# compiling (column lists of the inputs and of upstream tables, top event types), so the tables
# they read must exist: on an empty database 12 of the 29 models do not compile. This script
# builds them in a throwaway DuckDB file (the demo seeds and the SQL models before training, a few
# seconds) and lints against it; it never opens lookalike.duckdb, and dbt's target/ and logs/ go
# to the same temporary folder. Used by .ci/run and the pre-commit hook.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export LOOKALIKE_DUCKDB_PATH="$work/lint.duckdb"
export DBT_TARGET_PATH="$work/target"
export DBT_LOG_PATH="$work/logs"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false  # as the tests run dbt: no network calls

dbt seed --project-dir . --profiles-dir . --quiet
# Everything upstream of int_lookalike__run_fingerprints: all SQL models that do not read the
# Python models' output (staging, snapshots, labels, point-in-time and inference features).
dbt run --project-dir . --profiles-dir . --quiet --select +int_lookalike__run_fingerprints

if [ "$#" -eq 0 ]; then set -- dbt_project/models; fi
status=0
# (pipefail: the pipeline's status is sqlfluff's.)
python -m sqlfluff lint "$@" 2>&1 | tee "$work/lint.out" || status=$?
# A model that dbt cannot compile is skipped with a logged warning and exit code 0 (the config's
# large_file_skip_fail covers only files skipped for their size): an unlinted model fails here.
if grep -q "Skipped file" "$work/lint.out"; then
  echo "sqlfluff skipped a model (see above): it was not linted" >&2
  exit 1
fi
exit "$status"
