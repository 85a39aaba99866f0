"""The Elkan–Noto constant and calibrated score macros (decision 0032) on hand-made rows, computed
by hand: one `dbt show --inline` on an empty DuckDB file, no build.

Run 'pu' (bagging PU) has three held-out seeds scored 0.2, 0.5 and 0.8, so c = 1.5 / 3 = 0.5; its
train-split seed (0.9) and its test-split unlabeled row (0.05) do not count. A score of 0.3 then
calibrates to 0.3 / 0.5 = 0.6 and 0.7 to min(1, 1.4) = 1. Run 'zero' (plain PU) has held-out seeds
that all score 0: no constant, no calibrated score. Run 'sup' has negatives: no row at all."""

from __future__ import annotations

import json

import pytest

from conftest import run_dbt

pytestmark = pytest.mark.integration

QUERY = """
with predictions as (
    select * from (values
        ('pu', 'test', 1, 0.2), ('pu', 'test', 1, 0.5), ('pu', 'test', 1, 0.8),
        ('pu', 'train', 1, 0.9), ('pu', 'test', 0, 0.05),
        ('zero', 'test', 1, 0.0), ('zero', 'test', 1, 0.0),
        ('sup', 'test', 1, 0.7)
    ) as t(run_id, split, label, score)
),
models as (
    select * from (values ('pu', 'pu_bagging'), ('zero', 'pu_plain'), ('sup', 'supervised')) as t(run_id, training_method)
),
constants as ({{ lookalike.lookalike_calibration_constants('predictions', 'models') }})
select run_id, calibration_constant, n_calibration_seeds,
       {{ lookalike.lookalike_calibrated_score('0.3', 'calibration_constant') }} as calibrated_03,
       {{ lookalike.lookalike_calibrated_score('0.7', 'calibration_constant') }} as calibrated_07
from constants
order by run_id
"""


def test_calibration_constant_and_score_by_hand(tmp_path):
    proc = run_dbt(["show", "--inline", QUERY, "--output", "json"], tmp_path / "empty.duckdb", tmp_path)
    body = proc.stdout[proc.stdout.index("{") :]
    rows = json.loads(body[: body.rindex("}") + 1])["show"]
    assert rows == [
        {
            "run_id": "pu",
            "calibration_constant": 0.5,
            "n_calibration_seeds": 3,
            "calibrated_03": 0.6,
            "calibrated_07": 1.0,
        },
        {
            "run_id": "zero",
            "calibration_constant": None,
            "n_calibration_seeds": 2,
            "calibrated_03": None,
            "calibrated_07": None,
        },
    ]
