"""lookalike_udf.export: a run id never moves an audience file out of its folder, and one run's
failed export is its own row."""

from __future__ import annotations

import os

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lookalike_udf.errors import LookalikeError
from lookalike_udf.export import export_audiences, resolve_export_path


@settings(max_examples=400, deadline=None)
@given(run_id=st.text(min_size=0, max_size=12, alphabet=st.sampled_from(list("ab./\\~_-\x00 é'"))))
def test_a_run_id_never_changes_the_folder(run_id):
    template = "/exports/audiences/{run_id}.csv"
    try:
        path = resolve_export_path(template, run_id)
    except LookalikeError as exc:
        assert str(exc).startswith(f"run {run_id!r}: ")
        return
    assert os.path.dirname(os.path.normpath(path)) == "/exports/audiences"
    assert os.path.basename(path) == f"{run_id}.csv"


@pytest.mark.parametrize(
    "template, message",
    [
        (
            "/x/{run_id}.txt",
            "run 'r1': audience_export_path '/x/{run_id}.txt' must end in .parquet or .csv (null = no export). "
            "Fix the runs input column or var lookalike_audience_export_path.",
        ),
    ],
)
def test_bad_extension(template, message):
    with pytest.raises(LookalikeError) as exc:
        resolve_export_path(template, "r1")
    assert str(exc.value) == message


def test_each_run_is_written_or_fails_alone(tmp_path):
    audiences = pa.table(
        {
            "run_id": ["a", "a", "b", "c"],
            "user_id": ["2", "1", "3", "4"],
            "score_rank": [2, 1, 1, 1],
            "score": [0.5, 0.9, 0.7, 0.1],
        }
    )
    (tmp_path / "a_file").write_text("x")
    runs = pa.table(
        {
            "run_id": ["a", "b", "c", "d"],
            "audience_export_path": [
                f"{tmp_path}/new/{{run_id}}.parquet",
                f"{tmp_path}/a_file/{{run_id}}.csv",
                f"{tmp_path}/{{run_id}}.csv",
                None,
            ],
        }
    )
    out = {r["run_id"]: r for r in export_audiences(audiences, runs).to_pylist()}
    assert set(out) == {"a", "b", "c"}  # d has no path
    assert (out["a"]["export_status"], out["a"]["n_rows"], out["a"]["file_format"]) == ("exported", 2, "parquet")
    assert duckdb.sql(f"select user_id from '{tmp_path}/new/a.parquet'").fetchall() == [("1",), ("2",)]
    assert out["b"]["export_status"] == "failed" and out["b"]["n_rows"] is None
    assert out["b"]["export_message"].startswith(f"run 'b': cannot create the folder '{tmp_path}/a_file' ")
    assert (tmp_path / "c.csv").read_text().splitlines()[0] == '"run_id","user_id","score_rank","score"'
    assert not list(tmp_path.rglob(".*.tmp"))


def test_an_export_path_that_is_a_folder_fails_that_run(tmp_path):
    (tmp_path / "taken.csv").mkdir()
    runs = pa.table({"run_id": ["a"], "audience_export_path": [f"{tmp_path}/taken.csv"]})
    audiences = pa.table({"run_id": ["a"], "user_id": ["1"], "score_rank": [1]})
    [row] = export_audiences(audiences, runs).to_pylist()
    assert row["export_message"] == (
        f"run 'a': audience_export_path '{tmp_path}/taken.csv' is a folder. Name a .parquet or .csv file in it instead."
    )


def test_the_holdout_group_is_left_out_unless_asked(tmp_path):
    audiences = pa.table(
        {
            "run_id": ["a", "a", "a", "b"],
            "user_id": ["1", "2", "3", "1"],
            "score_rank": [1, 2, 3, 1],
            "is_holdout": [False, True, None, True],
        }
    )
    runs = pa.table({"run_id": ["a", "b"], "audience_export_path": [str(tmp_path / "{run_id}.csv")] * 2})
    for flag, expected in ((False, {"a": 2, "b": 0}), ("False", {"a": 2, "b": 0}), ("True", {"a": 3, "b": 1})):
        out = {r["run_id"]: r for r in export_audiences(audiences, runs, include_holdout=flag).to_pylist()}
        assert {k: v["n_rows"] for k, v in out.items()} == expected, flag
        assert all(v["export_status"] == "exported" for v in out.values())
    # A null is_holdout counts as not held out: users 1 and 3 of run 'a' are exported, 2 is not.
    export_audiences(audiences, runs, include_holdout=False)
    written = duckdb.sql(f"select user_id from read_csv('{tmp_path / 'a.csv'}', all_varchar = true) order by 1")
    assert [r[0] for r in written.fetchall()] == ["1", "3"]
    with pytest.raises(ValueError, match="lookalike_audience_export_holdout"):
        export_audiences(audiences, runs, include_holdout="maybe")
