"""Hostile names shared by the DuckDB test (test_hostile_names.py) and the Spark test
(test_spark_hostile_names.py): feature columns, an event type, item categories and the item
category column named to break out of quotes, comments and Jinja (issue 12, "Injection")."""

from __future__ import annotations

import duckdb

from integration.fixtures import EVENT_VARS, EVENTS, uid

# The payload of the security review: with adapter.quote() it dropped main.sentinel_keep and
# created main.pwned, and the build stayed green.
PAYLOAD = (
    'visits" as double) as "visits_dup" from inputs.snapshots); drop table main.sentinel_keep; '
    'create table main.pwned as (select 1 as "x" --'
)
QUOTE = "o'brien_score"
SEMICOLON = "semi;colon -- not a comment"
NEWLINE = "new\nline"
JINJA = "{{ 1 }} {% if %}"
UNICODE = "größe_€"
HOSTILE_COLUMNS = [PAYLOAD, QUOTE, SEMICOLON, NEWLINE, JINJA, UNICODE]

# An event type and item categories from the data, and the column of the items input holding the category.
HOSTILE_TYPE = "pur'chase\"; drop table main.sentinel_keep; --\n{{ 1 }}"
HOSTILE_TYPE_SLUG = "pur_chase_drop_table_main_sentinel_keep_1"
HOSTILE_CATEGORY = 'Outdoor\' || (select 1); --"gear"'
HOSTILE_CATEGORY_SLUG = "outdoor_select_1_gear"
CATEGORY_COLUMN = "cat\"egory'; drop table main.sentinel_keep; --"
UNKNOWN = ["no_such_feature", "o'brien_scor"]


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def add_hostile_inputs(db_path) -> None:
    con = duckdb.connect(str(db_path))
    con.execute("create table main.sentinel_keep as select 42 as kept")
    # The payload reads column visits: with it present, the unescaped SQL ran (checked on the old macros).
    con.execute("alter table inputs.snapshots add column visits integer")
    con.execute("update inputs.snapshots set visits = cast(user_id as integer) % 6")
    for name, sql_type in zip(
        HOSTILE_COLUMNS, ["double", "double", "varchar", "boolean", "double", "double"], strict=True
    ):
        con.execute(f"alter table inputs.snapshots add column {q(name)} {sql_type}")
    i = "cast(user_id as integer)"
    con.execute(f"""
        update inputs.snapshots set
            {q(PAYLOAD)} = score_signal * 2 + 1,           -- informative: positives 1..30 score high
            {q(QUOTE)} = {i} % 5,
            {q(SEMICOLON)} = case when {i} % 2 = 0 then 'even' else 'odd' end,
            {q(NEWLINE)} = {i} % 3 = 0,
            {q(JINJA)} = {i} % 4,
            {q(UNICODE)} = {i} * 0.1""")
    events = [(u, t, HOSTILE_TYPE if e == "purchase" else e, item, v) for (u, t, e, item, v) in EVENTS]
    # Users 1..12 (the positives of run 'single') also have one, so the hostile-named event
    # features carry signal in every bag. (A feature null for every row of a bag used to fail the
    # fit on scikit-learn 1.9; estimators/_sklearn_compat.py, tests/unit/test_sklearn_compat.py.)
    events += [(uid(i), "2026-01-20 00:00:00", HOSTILE_TYPE, None, 1.0) for i in range(1, 13)]
    con.execute(
        "create or replace table inputs.events (user_id varchar, event_at timestamp, event_type varchar, "
        "item_id varchar, value double)"
    )
    con.executemany("insert into inputs.events values (?, ?, ?, ?, ?)", events)
    con.execute(f"create or replace table inputs.items (item_id varchar, {q(CATEGORY_COLUMN)} varchar)")
    con.executemany("insert into inputs.items values (?, ?)", [("item_a", HOSTILE_CATEGORY), ("item_b", "007")])
    con.close()


VARS = {**EVENT_VARS, "lookalike_item_category_column": CATEGORY_COLUMN, "lookalike_feature_exclude": UNKNOWN}
