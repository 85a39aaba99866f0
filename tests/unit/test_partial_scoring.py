"""Unit tests of scoring only what changed (decision 0036): lookalike_udf.dbt_models.score_population
with feature hashes, on Arrow tables and on relations of one DuckDB (what dbt-duckdb passes).

The population is 200 users of two trained runs ('a', 'b'). Between the two builds user 00003's
and user 00007's features change, user 00010 leaves and user 99999 arrives; the hashes stand in for
int_lookalike__population_feature_hashes (any value per distinct feature row will do here: the
SQL model is tested by the integration test)."""

from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lookalike_udf import dbt_models, reuse
from lookalike_udf.outputs import DELTA_SCORE_SCHEMA, SCORE_SCHEMA
from test_integrity import examples, inputs

CHANGED = {"00003", "00007"}
REMOVED = "00010"
ADDED = "99999"


@pytest.fixture(scope="module")
def built():
    runs, summary, exs, fingerprints = inputs("a", "b")
    models = dbt_models.train_models(runs, summary, exs, fingerprints)
    return {"runs": runs, "fingerprints": fingerprints, "models": models}


def population_before() -> pa.Table:
    return examples("a").select(["user_id", "signal", "tier"])


def population_after() -> pa.Table:
    rows = [r for r in population_before().to_pylist() if r["user_id"] != REMOVED]
    for r in rows:
        if r["user_id"] in CHANGED:
            r["signal"] += 3.0
    rows.append({"user_id": ADDED, "signal": 2.5, "tier": "pro"})
    return pa.Table.from_pylist(rows, schema=population_before().schema)


def hashes_of(population: pa.Table) -> pa.Table:
    return pa.table(
        {
            "user_id": population.column("user_id"),
            "feature_hash": [
                hashlib.md5(f"{r['signal']!r}|{r['tier']}".encode()).hexdigest() for r in population.to_pylist()
            ],
        }
    )


def fingerprints(built, population_checksum: str) -> pa.Table:
    rows = built["fingerprints"].to_pylist()
    return pa.Table.from_pylist([dict(r, population_checksum=population_checksum) for r in rows])


class Inputs:
    """The inputs of one build as Arrow tables, or as relations over tables of one DuckDB."""

    def __init__(self, kind: str):
        self.kind = kind
        self.con = duckdb.connect()

    def __call__(self, name: str, table: pa.Table | None):
        if self.kind == "arrow" or table is None:
            return table
        self.con.register("source", table)
        self.con.execute(f"create or replace table {name} as select * from source")
        self.con.unregister("source")
        return self.con.sql(f"select * from {name}")


def score(built, population, hashes, checksum, previous=None, method="python", kind="arrow", **kwargs) -> pa.Table:
    rel = Inputs(kind)
    return dbt_models.score_population(
        built["models"],
        rel("population", population),
        batch_size=64,
        runs=built["runs"],
        fingerprints=fingerprints(built, checksum),
        previous=rel("previous", previous),
        engine=method,
        hashes=rel("hashes", hashes),
        **kwargs,
    ).read_all()


def rows_of(table: pa.Table, run: str) -> dict:
    return {r["user_id"]: r for r in table.to_pylist() if r["run_id"] == run}


@pytest.mark.parametrize("method", ["python", "sql"])
@pytest.mark.parametrize("kind", ["arrow", "duckdb"])
def test_only_changed_and_new_users_are_scored_and_the_rest_carried_bit_for_bit(built, method, kind):
    before, after = population_before(), population_after()
    first = score(built, before, hashes_of(before), "p1", method=method, kind=kind)
    assert first.schema == DELTA_SCORE_SCHEMA
    assert set(first.column("scoring_action").to_pylist()) == {"scored"}
    assert None not in first.column("feature_hash").to_pylist()

    second = score(built, after, hashes_of(after), "p2", previous=first, method=method, kind=kind)
    full = score(built, after, hashes_of(after), "p2", method=method, kind=kind)  # a full rescoring
    for run in ("a", "b"):
        old, new, ref = rows_of(first, run), rows_of(second, run), rows_of(full, run)
        assert set(new) == set(ref) == (set(old) - {REMOVED}) | {ADDED}
        scored = {u for u, r in new.items() if r["scoring_action"] == "scored"}
        assert scored == CHANGED | {ADDED}
        for user, row in new.items():
            assert row["score"] == pytest.approx(ref[user]["score"], abs=1e-12, rel=0)
            assert row["score_fingerprint"] == ref[user]["score_fingerprint"]  # this build's: whole next time
            if user not in scored:
                assert row["scoring_action"] == "reused"
                # The previous row as it was: score, scored_at, scorer and hash.
                for column in ("score", "scored_at", "scorer_fingerprint", "feature_hash"):
                    assert row[column] == old[user][column], (user, column)
            else:
                assert row["scored_at"] > max(r["scored_at"] for r in old.values())
                assert row["feature_hash"] == ref[user]["feature_hash"] != old.get(user, {}).get("feature_hash")
        assert {r["scorer_fingerprint"] for r in new.values()} == {
            reuse.scorer_fingerprint(m["training_fingerprint"], m["model_sha256"], method)
            for m in built["models"].to_pylist()
            if m["run_id"] == run
        }

    # Nothing changed since: the whole runs are carried (the cheapest path, decision 0004).
    third = score(built, after, hashes_of(after), "p2", previous=second, method=method, kind=kind)
    assert set(third.column("scoring_action").to_pylist()) == {"reused"}
    assert sorted(third.column("score").to_pylist()) == sorted(second.column("score").to_pylist())


def test_force_rescores_every_user(built):
    before, after = population_before(), population_after()
    first = score(built, before, hashes_of(before), "p1")
    forced = score(built, after, hashes_of(after), "p2", previous=first, force=True)
    assert set(forced.column("scoring_action").to_pylist()) == {"scored"}
    assert forced.num_rows == 2 * after.num_rows


def test_a_run_whose_previous_scoring_failed_is_rescored_whole(built):
    before, after = population_before(), population_after()
    first = score(built, before, hashes_of(before), "p1")
    marker = first.filter(pc.equal(first.column("run_id").cast(pa.string()), "b")).slice(0, 1).to_pylist()[0]
    marker.update(user_id=None, score=None, scoring_action="failed", scoring_message="run 'b': scoring failed")
    failed = pa.concat_tables([first, pa.Table.from_pylist([marker], schema=first.schema)])
    second = score(built, after, hashes_of(after), "p2", previous=failed)
    assert {r["scoring_action"] for r in rows_of(second, "b").values()} == {"scored"}
    assert {u for u, r in rows_of(second, "a").items() if r["scoring_action"] == "scored"} == CHANGED | {ADDED}


def test_another_model_or_method_or_an_old_table_rescores_whole(built):
    before, after = population_before(), population_after()
    first = score(built, before, hashes_of(before), "p1")
    # A retrained model: run 'a''s stored scorer key differs.
    other = first.set_column(
        first.schema.get_field_index("scorer_fingerprint"),
        "scorer_fingerprint",
        pc.if_else(
            pc.equal(first.column("run_id").cast(pa.string()), "a"),
            pa.scalar("another model"),
            first.column("scorer_fingerprint").cast(pa.string()),
        ).dictionary_encode(),
    )
    second = score(built, after, hashes_of(after), "p2", previous=other)
    assert {r["scoring_action"] for r in rows_of(second, "a").values()} == {"scored"}
    assert {u for u, r in rows_of(second, "b").items() if r["scoring_action"] == "scored"} == CHANGED | {ADDED}
    # Scores of the python method are not carried into a build that scores with sql.
    by_sql = score(built, after, hashes_of(after), "p2", previous=first, method="sql")
    assert set(by_sql.column("scoring_action").to_pylist()) == {"scored"}
    # A table from before decision 0036 (no scorer_fingerprint / feature_hash): rescored whole, then hashed.
    old = first.select(SCORE_SCHEMA.names)
    again = score(built, after, hashes_of(after), "p2", previous=old)
    assert set(again.column("scoring_action").to_pylist()) == {"scored"}
    assert None not in again.column("feature_hash").to_pylist()


def test_without_hashes_every_changed_run_is_rescored_and_no_hash_is_stored(built):
    before, after = population_before(), population_after()
    first = score(built, before, None, "p1")
    assert set(first.column("feature_hash").to_pylist()) == {None}
    second = score(built, after, None, "p2", previous=first)
    assert set(second.column("scoring_action").to_pylist()) == {"scored"}


def test_scorer_fingerprint_depends_on_model_and_method():
    a = reuse.scorer_fingerprint("fp", "sha", "python")
    assert len(a) == 64 and a == reuse.scorer_fingerprint("fp", "sha", "python")
    assert a != reuse.scorer_fingerprint("fp2", "sha", "python")
    assert a != reuse.scorer_fingerprint("fp", "sha2", "python")
    assert a != reuse.scorer_fingerprint("fp", "sha", "sql")
    assert reuse.scorer_fingerprint(None, "sha", "python") is None
