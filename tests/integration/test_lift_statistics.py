"""The lift statistics of lookalike_audience_lift (issue 30 part 3, decision 0030), on generated rows.

The macro ``lookalike_audience_lift_sql`` is compiled once by dbt (``dbt compile --inline``, the same
Jinja the model runs) over two plain relations, ``gen_members`` and ``gen_outcomes``, and the SQL is
then run on DuckDB over generated data: thousands of users with a planted lift, none, hundreds of
replicates for the coverage, hostile run ids, outcomes before publication and after the window.
Every figure is checked against a closed-form reference written here with numpy (Wilson, Newcombe's
hybrid score interval, Welch's normal interval; z from scipy), on the same rows.
"""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import norm

from conftest import run_dbt

pytestmark = pytest.mark.integration

Z = float(norm.ppf(0.975))
PUBLISHED = dt.datetime(2026, 7, 1, 10, 0, 0, 123456)
MIN_USERS = 30


@pytest.fixture(scope="module")
def lift_sql(tmp_path_factory) -> str:
    work = tmp_path_factory.mktemp("lift_sql")
    proc = run_dbt(
        [
            "compile",
            "--quiet",
            "--inline",
            f"{{{{ lookalike.lookalike_audience_lift_sql('gen_members', 'gen_outcomes', {MIN_USERS}) }}}}",
        ],
        work / "empty.duckdb",
        work,
    )
    sql = proc.stdout.strip()
    assert sql.lstrip().startswith("with lift_members as"), sql[:500]
    return sql


# --- the reference, closed form --------------------------------------------------------------


def wilson(x: int, n: int) -> tuple[float, float]:
    p = x / n
    denominator = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / denominator
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, float]:
    """(p1 - p2, low, high): Newcombe (1998) method 10, the hybrid score interval."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1)
    l2, u2 = wilson(x2, n2)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def welch(v1: np.ndarray, v2: np.ndarray) -> tuple[float, float, float]:
    d = float(v1.mean() - v2.mean())
    half = Z * math.sqrt(v1.var(ddof=1) / len(v1) + v2.var(ddof=1) / len(v2))
    return d, d - half, d + half


# --- generated rows ------------------------------------------------------------------------


class Data:
    """Members and outcomes built up in Python, then written to DuckDB as gen_members / gen_outcomes."""

    def __init__(self):
        self.members: list[tuple] = []  # run_id, published_at, user_id, lift_group, lift_window_days
        self.outcomes: list[tuple] = []  # run_id, user_id, outcome_at, value

    def group(self, run_id, group, users, published=PUBLISHED, window=None):
        self.members += [(run_id, published, u, group, window) for u in users]

    def run(self, sql: str) -> list[dict]:
        con = duckdb.connect()
        members = pa.table(
            list(zip(*self.members, strict=True)) if self.members else [[]] * 5,
            schema=pa.schema(
                [
                    ("run_id", pa.string()),
                    ("published_at", pa.timestamp("us")),
                    ("user_id", pa.string()),
                    ("lift_group", pa.string()),
                    ("lift_window_days", pa.float64()),
                ]
            ),
        )
        outcomes = pa.table(
            list(zip(*self.outcomes, strict=True)) if self.outcomes else [[]] * 4,
            schema=pa.schema(
                [
                    ("run_id", pa.string()),
                    ("user_id", pa.string()),
                    ("outcome_at", pa.timestamp("us")),
                    ("value", pa.float64()),
                ]
            ),
        )
        con.register("members_arrow", members)
        con.register("outcomes_arrow", outcomes)
        con.execute("create table gen_members as select * from members_arrow")
        con.execute("create table gen_outcomes as select * from outcomes_arrow")
        cur = con.execute(f"select * from ({sql}) order by run_id, published_at, lift_group")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def by_key(rows):
    return {(r["run_id"], r["published_at"], r["lift_group"]): r for r in rows}


def planted(rng, data: Data, run_id: str, rates: dict[str, float], sizes: dict[str, int]) -> dict[str, tuple]:
    """Users of each group convert with the group's rate (one to three outcomes, lognormal values,
    some null); every user also has an outcome one second before publication, which must not count.
    Returns each group's (value per user, converted per user), as the reference counts them."""
    values = {}
    for group, n in sizes.items():
        users = [f"{run_id}-{group}-{i}" for i in range(n)]
        data.group(run_id, group, users)
        per_user = np.zeros(n)
        converted = np.zeros(n, dtype=bool)
        for i, user in enumerate(users):
            data.outcomes.append((run_id, user, PUBLISHED - dt.timedelta(seconds=1), 1000.0))
            if rng.random() < rates[group]:
                converted[i] = True
                for k in range(int(rng.integers(1, 4))):
                    value = None if rng.random() < 0.1 else float(np.round(rng.lognormal(3, 1), 2))
                    at = PUBLISHED + dt.timedelta(days=float(rng.uniform(0, 30)))
                    data.outcomes.append((run_id, user, PUBLISHED if k == 0 and i % 50 == 0 else at, value))
                    per_user[i] += value or 0.0
        values[group] = (per_user, converted)
    return values


def assert_matches_reference(row_by_group: dict, values: dict[str, tuple]):
    target = values["target"][0]
    for group, (v, converted) in values.items():
        row = row_by_group[group]
        n, x = len(v), int(converted.sum())
        assert (row["n_users"], row["n_converted_users"]) == (n, x)
        assert row["conversion_rate"] == x / n
        assert row["total_value"] == pytest.approx(v.sum(), rel=1e-12, abs=1e-9)
        assert row["mean_value"] == pytest.approx(v.mean(), rel=1e-12, abs=1e-12)
        assert row["value_stddev"] == pytest.approx(v.std(ddof=1), rel=1e-10)
        low, high = wilson(x, n)
        assert (row["conversion_rate_ci_low"], row["conversion_rate_ci_high"]) == pytest.approx((low, high), abs=1e-12)
        assert row["n_target_users"] == len(target)
        if group == "target":
            assert row["rate_difference"] is None and row["rate_difference_ci_low"] is None
            assert row["mean_value_difference"] is None and row["mean_value_difference_ci_high"] is None
            continue
        expected = newcombe(int(values["target"][1].sum()), len(target), x, n)
        got = (row["rate_difference"], row["rate_difference_ci_low"], row["rate_difference_ci_high"])
        assert got == pytest.approx(expected, abs=1e-12)
        expected = welch(target, v)
        got = (row["mean_value_difference"], row["mean_value_difference_ci_low"], row["mean_value_difference_ci_high"])
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_a_planted_lift_is_recovered_and_no_lift_covers_zero(lift_sql):
    rng = np.random.default_rng(30)
    data = Data()
    sizes = {"target": 8000, "holdout": 2000, "rest": 6000}
    lifted = planted(rng, data, "planted", {"target": 0.12, "holdout": 0.08, "rest": 0.05}, sizes)
    flat = planted(rng, data, "flat", {"target": 0.10, "holdout": 0.10, "rest": 0.10}, sizes)
    rows = by_key(data.run(lift_sql))
    assert len(rows) == 6
    got = {run: {g: rows[(run, PUBLISHED, g)] for g in sizes} for run in ("planted", "flat")}

    # Conversions: a user converted when the generator drew it (its pre-publication outcome ignored).
    for run, values in (("planted", lifted), ("flat", flat)):
        assert_matches_reference(got[run], values)
    planted_rows = got["planted"]
    # the realised rates are within 4 binomial standard errors of the planted ones
    assert planted_rows["target"]["conversion_rate"] == pytest.approx(0.12, abs=4 * math.sqrt(0.12 * 0.88 / 8000))
    assert planted_rows["holdout"]["conversion_rate"] == pytest.approx(0.08, abs=4 * math.sqrt(0.08 * 0.92 / 2000))

    # The planted 4-point lift is inside the interval, and the interval excludes zero.
    holdout = planted_rows["holdout"]
    assert holdout["rate_difference_ci_low"] < 0.04 < holdout["rate_difference_ci_high"]
    assert holdout["rate_difference_ci_low"] > 0
    # The value per user: E[value] = rate x E[outcomes] x E[non-null value] (lognormal(3, 1)).
    per_converter = 2 * 0.9 * math.exp(3 + 0.5)
    true_value_lift = (0.12 - 0.08) * per_converter
    assert holdout["mean_value_difference_ci_low"] < true_value_lift < holdout["mean_value_difference_ci_high"]

    # No lift: both intervals cover zero.
    flat_holdout = got["flat"]["holdout"]
    assert flat_holdout["rate_difference_ci_low"] < 0 < flat_holdout["rate_difference_ci_high"]
    assert flat_holdout["mean_value_difference_ci_low"] < 0 < flat_holdout["mean_value_difference_ci_high"]


def test_intervals_cover_the_true_difference_95_percent_of_the_time(lift_sql):
    """300 replicates (one run each) of 1,500 target and 1,500 holdout users, rates 11 % and 9 %,
    one outcome of value ~ exponential(50) per converted user: each interval covers the truth in
    about 95 % of the replicates (binomial standard error 1.3 points)."""
    rng = np.random.default_rng(2026)
    data = Data()
    n, replicates = 1500, 300
    for r in range(replicates):
        run_id = f"rep{r:03d}"
        for group, rate in (("target", 0.11), ("holdout", 0.09)):
            users = [f"{r}-{group}-{i}" for i in range(n)]
            data.group(run_id, group, users)
            converted = rng.random(n) < rate
            for user in np.array(users)[converted]:
                data.outcomes.append((run_id, str(user), PUBLISHED + dt.timedelta(hours=5), float(rng.exponential(50))))
    rows = [r for r in data.run(lift_sql) if r["lift_group"] == "holdout"]
    assert len(rows) == replicates
    rate_cover = np.mean([r["rate_difference_ci_low"] <= 0.02 <= r["rate_difference_ci_high"] for r in rows])
    value_cover = np.mean(
        [r["mean_value_difference_ci_low"] <= 1.0 <= r["mean_value_difference_ci_high"] for r in rows]
    )
    assert 0.92 <= rate_cover <= 0.98, rate_cover
    assert 0.92 <= value_cover <= 0.98, value_cover
    # and the interval is not trivially wide: it excludes zero in part of the replicates only
    assert 0.1 < np.mean([r["rate_difference_ci_low"] > 0 for r in rows]) < 0.9


HOSTILE_RUNS = ["it's", 'a"b', "x'); drop table gen_members; --", "ü\nnew line", "a:b", "a"]


def test_counting_rules_hostile_run_ids_and_builds(lift_sql):
    """Publication time, window end, run_id null for every run, one run's outcomes not another's,
    two audience builds of one run, hostile run ids, small and empty groups."""
    data = Data()
    later = PUBLISHED + dt.timedelta(days=10)
    for k, run_id in enumerate(HOSTILE_RUNS):
        data.group(run_id, "target", [f"u{i}" for i in range(0, 40)], window=7.5)
        data.group(run_id, "holdout", [f"u{i}" for i in range(40, 40 + k)], window=7.5)  # 0..5 users
        data.group(run_id, "rest", [f"u{i}" for i in range(100, 140)], window=7.5)
    # A second audience build of run 'a', published 10 days later, no window.
    data.group("a", "target", [f"u{i}" for i in range(0, 40)], published=later)
    data.group("a", "rest", [f"u{i}" for i in range(100, 140)], published=later)
    window_end = PUBLISHED + dt.timedelta(days=7.5)
    data.outcomes += [
        # for every run: u0 at publication (counts), u1 just before it (does not)
        (None, "u0", PUBLISHED, 2.0),
        (None, "u1", PUBLISHED - dt.timedelta(microseconds=1), 100.0),
        # the window end is exclusive
        (None, "u2", window_end - dt.timedelta(microseconds=1), 3.0),
        (None, "u3", window_end, 100.0),
        # one run's outcome is not another's; 'a:b' and 'a' stay apart
        ("a:b", "u4", PUBLISHED + dt.timedelta(days=1), 5.0),
        ("a", "u5", PUBLISHED + dt.timedelta(days=1), None),
        # after the second build of 'a' was published: counts there (no window), not in the first
        ("a", "u100", later + dt.timedelta(days=1), 7.0),
        # a run that has no members, and a user who is in no group
        ("ghost", "u0", PUBLISHED, 1.0),
        (None, "nobody", PUBLISHED, 1.0),
    ]
    rows = by_key(data.run(lift_sql))
    assert {k[0] for k in rows} == set(HOSTILE_RUNS)
    assert len(rows) == 3 * len(HOSTILE_RUNS) + 3
    for k, run_id in enumerate(HOSTILE_RUNS):
        target = rows[(run_id, PUBLISHED, "target")]
        converted = {"u0", "u2"} | ({"u4"} if run_id == "a:b" else set()) | ({"u5"} if run_id == "a" else set())
        assert target["n_converted_users"] == len(converted), run_id
        assert target["total_value"] == 5.0 + (5.0 if run_id == "a:b" else 0.0), run_id
        assert target["window_end_at"] == window_end and target["lift_window_days"] == 7.5
        holdout = rows[(run_id, PUBLISHED, "holdout")]
        assert holdout["n_users"] == k
        if k == 0:  # empty group: no rate, no difference, no interval
            assert holdout["conversion_rate"] is None and holdout["rate_difference"] is None
            assert holdout["mean_value"] is None and holdout["mean_value_difference"] is None
        else:  # too small (< 30 users): the point figures, no intervals
            assert holdout["rate_difference"] == pytest.approx(target["conversion_rate"] - holdout["conversion_rate"])
            assert holdout["conversion_rate_ci_low"] is None and holdout["rate_difference_ci_low"] is None
            assert holdout["mean_value_difference_ci_low"] is None
        rest = rows[(run_id, PUBLISHED, "rest")]
        assert rest["n_users"] == 40 and rest["n_converted_users"] == 0 and rest["total_value"] == 0.0
        # 40 and 40 users: intervals exist (the rest converted nobody, so its values are all 0)
        assert rest["rate_difference_ci_low"] is not None and rest["mean_value_difference_ci_low"] is not None
        d, low, high = newcombe(len(converted), 40, 0, 40)
        assert (rest["rate_difference"], rest["rate_difference_ci_low"], rest["rate_difference_ci_high"]) == (
            pytest.approx((d, low, high), abs=1e-12)
        )
    second = {g: rows[("a", later, g)] for g in ("target", "holdout", "rest")}
    assert second["target"]["n_converted_users"] == 0  # u0, u2 and u5 were before this build
    assert second["rest"]["n_converted_users"] == 1 and second["rest"]["total_value"] == 7.0
    assert second["holdout"]["n_users"] == 0 and second["target"]["window_end_at"] is None
    assert rows[("a", PUBLISHED, "rest")]["n_converted_users"] == 0


def test_no_outcomes_gives_zero_conversions(lift_sql):
    data = Data()
    data.group("r", "target", [str(i) for i in range(50)])
    data.group("r", "holdout", [str(i) for i in range(50, 100)])
    rows = data.run(lift_sql)
    assert [(r["lift_group"], r["n_users"], r["n_converted_users"], r["total_value"]) for r in rows] == [
        ("holdout", 50, 0, 0.0),
        ("rest", 0, 0, 0.0),
        ("target", 50, 0, 0.0),
    ]
    holdout = rows[0]
    assert (
        holdout["rate_difference"] == 0.0 and holdout["rate_difference_ci_low"] < 0 < holdout["rate_difference_ci_high"]
    )
    assert (holdout["mean_value_difference_ci_low"], holdout["mean_value_difference_ci_high"]) == (0.0, 0.0)
