"""The report's builders on hand-made rows: SVG charts, ROC maths, the HTML page, the reader's SQL."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from conftest import REPO
from lookalike_udf.cli import main as cli_main
from lookalike_udf.report import MartReader, ReportInputError, load_report_data, render_html
from lookalike_udf.report.data import HISTOGRAM_BINS, roc_points, thin_curve
from lookalike_udf.report.reader import REQUIRED_MARTS
from lookalike_udf.report.render import TABLE_MONTHS
from lookalike_udf.report.svg import Series, bar_chart, hbar_chart, line_chart, nice_max, share_axis_max, short_label

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "x<script>alert(1)</script>\"'&"


def parse_svg(markup) -> ET.Element:
    return ET.fromstring(str(markup))  # raises on anything that is not well-formed XML


def test_roc_points_auc_equals_sklearn_with_weights_and_ties():
    rng = np.random.default_rng(7)
    score = np.round(rng.random(500), 2)  # many ties
    label = (rng.random(500) < score).astype(int)
    weight = rng.uniform(0.2, 3.0, 500)
    rows = []
    for s in sorted(set(score), reverse=True):
        m = score == s
        rows.append({"w_pos": weight[m & (label == 1)].sum(), "w_neg": weight[m & (label == 0)].sum()})
    points, auc = roc_points(rows)
    assert auc == pytest.approx(roc_auc_score(label, score, sample_weight=weight), abs=1e-12)
    assert points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)
    assert all(b[0] >= a[0] and b[1] >= a[1] for a, b in zip(points, points[1:], strict=False))


def test_roc_points_without_a_class():
    assert roc_points([{"w_pos": 1.0, "w_neg": 0.0}]) == ([], None)
    assert roc_points([]) == ([], None)


def test_thin_curve_bounds_points_and_keeps_the_ends():
    pts = [(i / 5000, (i / 5000) ** 0.3) for i in range(5001)]
    thin = thin_curve(pts, step=0.02)
    assert thin[0] == pts[0] and thin[-1] == pts[-1]
    assert len(thin) <= 2 / 0.02 + 2
    assert all(max(abs(b[0] - a[0]), abs(b[1] - a[1])) >= 0.02 for a, b in zip(thin[:-2], thin[1:-1], strict=True))


def test_nice_max():
    assert [nice_max(v) for v in (0.37, 0.4, 7, 1300, 0, -1, 1.0)] == [0.4, 0.4, 10.0, 2000.0, 1.0, 1.0, 1.0]


def test_line_chart_points_carry_their_values():
    svg = line_chart(
        "roc",
        "run_a",
        "ROC",
        [
            Series("train", "train", points=[(0, 0), (0.25, 0.5), (1, 1)]),
            Series("random", "random", points=[(0, 0.1), (1, 0.1)], markers=False, dashed=True),
        ],
        x_label="x",
        y_label="y",
        diagonal=True,
    )
    root = parse_svg(svg)
    assert root.get("data-chart") == "roc" and root.get("data-run") == "run_a"
    circles = root.findall(f".//{SVG}circle")
    assert [(c.get("data-series"), float(c.get("data-x")), float(c.get("data-value"))) for c in circles] == [
        ("train", 0.0, 0.0),
        ("train", 0.25, 0.5),
        ("train", 1.0, 1.0),
    ]
    lines = {p.get("data-series"): p for p in root.findall(f".//{SVG}polyline")}
    assert set(lines) == {"train", "random"} and lines["random"].get("data-n-points") == "2"
    # y grows upwards: the point at y = 1 is drawn above the point at y = 0
    assert float(circles[2].get("cy")) < float(circles[0].get("cy"))


def test_bar_chart_bars_values_and_escaping():
    svg = bar_chart(
        "decile-rate",
        HOSTILE,
        "t",
        ["0", "1", HOSTILE],
        [
            Series("train", "train", values=[0.1, None, 0.5], extra=[{"data-n-users": 3}] * 3),
            Series("test", HOSTILE, values=[0.2, 0.3, 0.0]),
        ],
        x_label="decile",
        y_label="rate",
        reference=(0.25, "random"),
    )
    assert "<script>" not in str(svg)
    root = parse_svg(svg)
    assert root.get("data-run") == HOSTILE
    bars = root.findall(f".//{SVG}rect")
    assert [(b.get("data-series"), b.get("data-category"), float(b.get("data-value"))) for b in bars] == [
        ("train", "0", 0.1),
        ("train", HOSTILE, 0.5),
        ("test", "0", 0.2),
        ("test", "1", 0.3),
        ("test", HOSTILE, 0.0),
    ]
    heights = [float(b.get("height")) for b in bars]
    assert heights[1] == pytest.approx(5 * heights[0], rel=1e-3) and heights[-1] == 0
    assert bars[0].get("data-n-users") == "3"


def test_hbar_chart_negative_values_and_classes():
    svg = hbar_chart(
        "importance",
        "r",
        "t",
        ["a", "b" * 40, "c"],
        [0.05, -0.01, None],
        x_label="drop",
        classes=["drift-large", "drift-none", "drift-none"],
        references=[(0.1, "0.1")],
    )
    root = parse_svg(svg)
    bars = root.findall(f".//{SVG}rect")
    assert [float(b.get("data-value")) for b in bars] == [0.05, -0.01]
    assert "drift-large" in bars[0].get("class")
    assert float(bars[1].get("x")) < float(bars[0].get("x"))  # the negative bar lies left of zero


def _run(**kw) -> dict:
    base = {
        "run_id": "r1",
        "status": "FINISHED",
        "health": "healthy",
        "quality_band": "Good",
        "test_auc": 0.7512345,
        "train_auc": 0.8,
        "n_scored_users": 1234,
        "engagement_type": "MULTI_ENGAGE",
        "run_started_at": dt.datetime(2026, 1, 2, 3, 4),
        "audience_scored_at": dt.datetime(2026, 1, 2, 3, 5),
        "summary": {"n_positive_users": 50, "n_matched_labels": 90, "n_input_labels": 100},
        "metrics": {"test": {"auc": 0.7512345, "positive_rate": 0.2}},
        "roc": {"test": {"points": [(0, 0), (0.2, 0.6), (1, 1)]}},
        "gains": [
            {"split": "test", "fraction": f / 10, "positive_rate": 0.5 - f / 50, "n_users": f} for f in range(1, 11)
        ],
        "deciles": [
            {"split": "test", "decile": d, "positive_rate": d / 20, "lift": d / 4, "n_users": 10} for d in range(10)
        ],
        "calibration": [
            {"split": "test", "decile": d, "mean_score": d / 10, "positive_rate": d / 12, "n_users": 10}
            for d in range(10)
        ],
        "histogram": {"bins": 20, "population": [5] * 20, "seeds": [0] * 19 + [7]},
        "thresholds": [{"split": "test", "cutoff": "max_ks", "threshold": 0.4, "precision_positive": 0.5}],
        "importance": [
            {"feature": f"f{i}", "importance": 0.1 / (i + 1), "rank": i + 1, "lift": 1.5} for i in range(20)
        ],
        "monthly": [
            {"label_month": dt.date(2026, m, 1), "n_labels": 10 * m, "n_positive_labels": m, "positive_rate": 0.1}
            for m in (1, 2)
        ]
        + [{"label_month": None, "n_labels": 3, "n_positive_labels": 3, "positive_rate": 1.0}],
        "drift": [{"feature": "f0", "psi": 0.3, "drift_level": "large"}],
    }
    base.update(kw)
    return base


def test_render_html_is_self_contained_and_has_every_chart():
    failed = {
        "run_id": HOSTILE,
        "status": "FAILED",
        "health": "unhealthy",
        "status_message": "run 'x': too few seeds | second message",
    }
    html = render_html({"runs": [_run(), failed], "has_drift": True}, generated_at=dt.datetime(2026, 1, 3))
    assert "<script" not in html.lower()  # no JavaScript at all, and names are escaped
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing loaded from anywhere
    assert "Content-Security-Policy" in html and "@media print" in html and "break-before: page" in html
    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S):
        parse_svg(svg)
    charts = re.findall(r'<svg [^>]*data-chart="([^"]+)" data-run="r1"', html)
    assert sorted(charts) == sorted(
        [
            "roc",
            "gains",
            "decile-rate",
            "decile-lift",
            "score-histogram",
            "calibration",
            "importance",
            "label-monthly",
            "drift",
        ]
    )
    assert 'data-field="test_auc" data-value="0.7512345">0.751<' in html
    assert "Usable</td>" in html and "Not usable</td>" in html
    assert "The run failed before training" in html and "too few seeds" in html and "second message" in html
    assert "top 15 of 20" in html  # the chart is capped, the tables list the rest
    importance = re.search(r'<svg [^>]*data-chart="importance".*?</svg>', html, flags=re.S).group(0)
    assert len(parse_svg(importance).findall(f".//{SVG}rect")) == 15 and "the other 5 feature(s)" in html
    assert "no timestamp" in html


def test_render_html_without_drift_table_has_no_drift_section():
    html = render_html({"runs": [_run()], "has_drift": False})
    assert 'data-chart="drift"' not in html and "Feature drift" not in html


def test_histogram_shares_sum_to_one_per_group():
    html = render_html({"runs": [_run()]})
    svg = re.search(r'<svg [^>]*data-chart="score-histogram".*?</svg>', html, flags=re.S).group(0)
    bars = parse_svg(svg).findall(f".//{SVG}rect")
    for series, n in (("population", 100), ("seeds", 7)):
        mine = [b for b in bars if b.get("data-series") == series]
        assert len(mine) == 20
        assert sum(float(b.get("data-value")) for b in mine) == pytest.approx(1.0)
        assert sum(int(b.get("data-count")) for b in mine) == n


# --- the reader's SQL on hand-made marts -------------------------------------------------------

# Types of the two marts without a contract (the others come from _public.yml).
UNCONTRACTED = {
    "lookalike_training_predictions": {
        "run_id": "varchar",
        "example_id": "varchar",
        "user_id": "varchar",
        "split": "varchar",
        "label": "integer",
        "weight": "double",
        "score": "double",
    },
    "lookalike_feature_importance": {
        "run_id": "varchar",
        "feature": "varchar",
        "feature_kind": "varchar",
        "reference_value": "varchar",
        "importance": "double",
        "correlation": "double",
        "prevalence_target": "double",
        "prevalence_population": "double",
        "prevalence_kind": "varchar",
        "lift": "double",
        "rank": "bigint",
    },
}


def _contract_columns() -> dict[str, dict[str, str]]:
    spec = yaml.safe_load((REPO / "dbt_project" / "models" / "public" / "_public.yml").read_text())
    out = dict(UNCONTRACTED)
    for model in spec["models"]:
        cols = {c["name"]: c["data_type"] for c in model.get("columns", []) if c.get("data_type")}
        if cols:
            out[model["name"]] = cols
    return out


def _marts(con, with_drift=True):
    """Every mart the report reads, empty, with the contract's columns; then a few rows."""
    columns = _contract_columns()
    for name in REQUIRED_MARTS + (("lookalike_feature_drift",) if with_drift else ()):
        cols = ", ".join(f'"{c}" {t}' for c, t in columns[name].items())
        con.execute(f"create table {name} ({cols})")
    con.execute("""insert into lookalike_runs (run_id, status, health, quality_band, test_auc)
        values ('r1', 'FINISHED', 'healthy', 'Good', 0.75)""")
    con.execute("""insert into lookalike_training_predictions (run_id, split, example_id, label, weight, score)
        select 'r1', 'test', 'e' || i, (i % 3 = 0)::int, 1.0 + (i % 2), round(i / 40.0, 1) from range(40) t(i)""")
    con.execute("""insert into lookalike_user_scores (run_id, user_id, score, is_seed_user, is_stale)
        select 'r1', 'u' || i, i / 99.0, i >= 90, false from range(100) t(i)""")
    if with_drift:
        con.execute("insert into lookalike_feature_drift (run_id, feature, psi) values ('r1', 'f', 0.3)")


def test_load_report_data_sql_on_hand_made_marts():
    con = duckdb.connect()
    _marts(con)
    data = load_report_data(MartReader(con))
    assert data["has_drift"] is True
    [run] = data["runs"]
    preds = con.execute("select label, score, weight from lookalike_training_predictions").fetchall()
    y, s, w = (np.array(c) for c in zip(*preds, strict=True))
    assert run["roc"]["test"]["auc"] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    assert "train" not in run["roc"]
    # histogram: 100 users in 20 bins, the score 1.0 in the last bin, seeds apart
    hist = run["histogram"]
    assert sum(hist["population"]) == 90 and sum(hist["seeds"]) == 10 and len(hist["population"]) == HISTOGRAM_BINS
    assert hist["seeds"][-1] >= 1
    # calibration: ten deciles of four examples, weighted means
    cal = run["calibration"]
    assert [c["decile"] for c in cal] == list(range(10)) and all(c["n_users"] == 4 for c in cal)
    assert cal[-1]["mean_score"] >= cal[0]["mean_score"]
    assert run["drift"][0]["psi"] == 0.3


def test_missing_marts_are_named():
    con = duckdb.connect()
    con.execute("create table lookalike_runs (run_id varchar)")
    with pytest.raises(ReportInputError, match="lookalike_run_metrics"):
        load_report_data(MartReader(con))


def test_drift_table_is_optional():
    con = duckdb.connect()
    _marts(con, with_drift=False)
    data = load_report_data(MartReader(con))
    assert data["has_drift"] is False and data["runs"][0]["drift"] == []


def test_reader_schema_and_any_dbapi_connection():
    con = duckdb.connect()
    con.execute('create schema "my ""schema"""')
    con.execute('create table "my ""schema""".lookalike_runs as select 1 as x')
    reader = MartReader(con, schema='my "schema"')
    assert reader.exists("lookalike_runs") and not MartReader(con).exists("lookalike_runs")
    assert reader.query(f"select x from {reader.relation('lookalike_runs')}") == [{"x": 1}]


def test_cli_reports_a_missing_file(tmp_path, capsys):
    assert cli_main(["report", "--duckdb", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "r.html")]) == 2
    assert "no DuckDB file" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_cli_writes_the_report(tmp_path, capsys):
    db = tmp_path / "m.duckdb"
    with duckdb.connect(str(db)) as con:
        _marts(con)
    out = tmp_path / "sub" / "r.html"
    assert cli_main(["report", "--duckdb", str(db), "--out", str(out)]) == 0
    assert 'data-chart="roc" data-run="r1"' in out.read_text()


# --- lookalike report: an unusable --out or --duckdb is one line and exit code 2 (issue 25) -----


def _built(tmp_path):
    db = tmp_path / "m.duckdb"
    with duckdb.connect(str(db)) as con:
        _marts(con)
    return db


def test_cli_out_onto_a_folder_or_under_a_file_is_one_line(tmp_path, capsys):
    db = _built(tmp_path)
    (tmp_path / "afile").write_text("keep")
    cases = [
        (
            tmp_path,
            f"lookalike report: --out {tmp_path} is a folder; give a file name, e.g. "
            f"--out {tmp_path / 'lookalike_report.html'}.",
        ),
        (
            tmp_path / "afile" / "r.html",
            f"lookalike report: --out {tmp_path / 'afile' / 'r.html'} is under "
            f"{tmp_path / 'afile'}, which is a file, not a folder. Choose another --out path.",
        ),
        (
            tmp_path / "afile" / "sub" / "r.html",
            f"lookalike report: --out {tmp_path / 'afile' / 'sub' / 'r.html'} is under "
            f"{tmp_path / 'afile'}, which is a file, not a folder. Choose another --out path.",
        ),
    ]
    for out, message in cases:
        assert cli_main(["report", "--duckdb", str(db), "--out", str(out)]) == 2
        assert capsys.readouterr().err == message + "\n"
    assert (tmp_path / "afile").read_text() == "keep"


def test_cli_out_in_a_read_only_folder_is_one_line(tmp_path, capsys):
    import os

    db = _built(tmp_path)
    if os.geteuid() == 0:  # root writes through file modes: /sys is a read-only file system here
        folder = Path("/sys")
        if not folder.is_dir() or not _unwritable(folder):
            pytest.skip("no read-only folder to try")
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    out = folder / "lookalike_report.html"
    assert cli_main(["report", "--duckdb", str(db), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"lookalike report: cannot write --out {out} (Permission denied). Choose a writable folder with --out.\n"
    )
    assert not out.exists()


def _unwritable(folder: Path) -> bool:
    try:
        (folder / "lookalike_probe").write_text("x")
    except OSError:
        return True
    (folder / "lookalike_probe").unlink()
    return False


def test_cli_not_a_duckdb_file_or_a_folder_gets_the_right_hint(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    assert cli_main(["report", "--duckdb", str(text), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f'lookalike report: cannot open {text} (IO Error: The file "{text}" exists, but it is not a valid '
        "DuckDB database file!). It is not a DuckDB database file. Point --duckdb at the file dbt build wrote "
        "(LOOKALIKE_DUCKDB_PATH, default lookalike.duckdb).\n"
    )
    assert "Another process" not in err
    assert cli_main(["report", "--duckdb", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err == (
        f"lookalike report: --duckdb {tmp_path} is a folder, not a DuckDB file. Point "
        "--duckdb at the file dbt build wrote (LOOKALIKE_DUCKDB_PATH, default "
        "lookalike.duckdb).\n"
    )
    assert not (tmp_path / "r.html").exists()


def test_cli_locked_file_says_another_process_holds_it(tmp_path, capsys):
    import subprocess
    import sys

    db = _built(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        assert cli_main(["report", "--duckdb", str(db), "--out", str(tmp_path / "r.html")]) == 2
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert err.startswith(f"lookalike report: cannot open {db} (IO Error: Could not set lock on file")
    assert err.endswith("). Another process (a running dbt build?) holds it; try again when it has finished.\n")


# --- issue 25 item 9: the report's papercuts ------------------------------------------------------


def _svg(html: str, chart: str) -> ET.Element:
    return parse_svg(re.search(rf'<svg [^>]*data-chart="{chart}".*?</svg>', html, flags=re.S).group(0))


def _y_ticks(root: ET.Element) -> list[str]:
    return [t.text for t in root.findall(f".//{SVG}g[@class='axes']/{SVG}text[@class='tick'][@text-anchor='end']")]


def test_positive_rate_and_share_axes_end_at_100_percent():
    """A top decile at 98.5 % drew an axis to 200 % (nice_max(0.985 * 1.15) = 2)."""
    assert [share_axis_max(v) for v in (0.985, 0.9, 0.3, 1.0, 0.0)] == [1.0, 1.0, 0.4, 1.0, 0.1]
    deciles = [
        {"split": "test", "decile": d, "positive_rate": 0.1 + d * 0.0983, "lift": d / 4, "n_users": 10}
        for d in range(10)
    ]
    html = render_html(
        {"runs": [_run(deciles=deciles, histogram={"bins": 20, "population": [0] * 19 + [9], "seeds": [0] * 19 + [3]})]}
    )
    for chart in ("decile-rate", "score-histogram"):
        root = _svg(html, chart)
        assert root.get("data-y-max") == "1.0", chart
        assert _y_ticks(root) == ["0%", "20%", "40%", "60%", "80%", "100%"], chart
    assert _svg(html, "decile-lift").get("data-y-max") == "4.0"  # lift is no share: not capped


def test_labels_by_month_table_lists_the_newest_24_months_and_sums_the_earlier_ones():
    months = [
        {
            "label_month": dt.date(2001 + m // 12, m % 12 + 1, 1),
            "n_labels": 10,
            "n_positive_labels": m % 3,
            "positive_rate": (m % 3) / 10,
        }
        for m in range(300)
    ]
    undated = [{"label_month": None, "n_labels": 4, "n_positive_labels": 1, "positive_rate": 0.25}]
    html = render_html({"runs": [_run(monthly=months + undated)]})
    table = re.search(r'<table data-table="label-monthly".*?</table>', html, flags=re.S).group(0)
    rows = re.findall(r"<tr[ >].*?</tr>", table.split("<tbody>")[1], flags=re.S)
    assert TABLE_MONTHS == 24 and len(rows) == 1 + 24 + 1
    earlier = sum(m % 3 for m in range(276))
    assert "276 earlier months (2001-01 – 2023-12)" in rows[0] and f">{earlier:,}<" in rows[0] and ">2,760<" in rows[0]
    assert f'data-value="{earlier / 2760!r}"' in rows[0]
    assert ">2024-01<" in rows[1] and ">2025-12<" in rows[24] and ">no timestamp<" in rows[25]
    assert "The newest 24 months; the earlier ones are summed in the first row." in html
    # the chart still draws every month
    bars = _svg(html, "label-monthly").findall(f".//{SVG}rect")
    assert len([b for b in bars if b.get("data-series") == "labels"]) == 301
    short = render_html({"runs": [_run()]})
    assert "earlier months" not in short and "The newest 24 months" not in short


def test_predicted_positive_is_weighted_like_the_true_positives_beside_it():
    thresholds = [
        {
            "split": "test",
            "cutoff": "top_pct",
            "top_pct": 10,
            "threshold": 0.8,
            "n_predicted_positive": 7,
            "true_positive": 10.5,
            "false_positive": 3.0,
            "true_negative": 20.0,
            "false_negative": 1.5,
        }
    ]
    html = render_html({"runs": [_run(thresholds=thresholds)]})
    assert '<th class="num">Examples ≥ threshold</th>' in html and '<th class="num">Predicted positive</th>' in html
    assert '<td class="num" data-field="n_predicted_positive" data-value="7">7</td>' in html
    assert '<td class="num" data-field="predicted_positive" data-value="13.5">13.5</td>' in html
    assert "predicted positive (= TP + FP), TP, FP, TN and FN: sums of the examples' weights" in html


def test_failed_runs_show_no_trained_time():
    failed = {
        "run_id": "f",
        "status": "FAILED",
        "health": "unhealthy",
        "run_started_at": dt.datetime(2026, 1, 2, 3, 4),
        "training_action": "trained",
    }
    html = render_html({"runs": [_run(), failed]})
    cells = re.findall(r'<td data-field="trained">(.*?)</td>', html, flags=re.S)
    assert cells == ["2026-01-02 03:04 UTC", '–<br><span class="muted">not trained: FAILED</span>']


def test_importance_unranked_features_prevalence_kinds_and_lift():
    importance = [
        {
            "feature": "sessions",
            "feature_kind": "numeric",
            "prevalence_kind": "mean",
            "importance": 0.05,
            "rank": 1,
            "prevalence_target": 7.84,
            "prevalence_population": 0.01,
            "lift": None,
        },
        {
            "feature": "plan",
            "feature_kind": "categorical",
            "reference_value": "pro",
            "prevalence_kind": "top_category_share",
            "importance": 0.01,
            "rank": 2,
            "prevalence_target": 0.325,
            "prevalence_population": 0.09275,
            "lift": 3.504,
        },
        {
            "feature": "unused",
            "feature_kind": "boolean",
            "prevalence_kind": "share_true",
            "importance": 0.0,
            "rank": None,
            "prevalence_target": 0.5,
            "prevalence_population": 0.25,
            "lift": 2.0,
        },
        # a build from before prevalence_kind, with a numeric lift: shown as a mean, no lift
        {
            "feature": "old_numeric",
            "feature_kind": "numeric",
            "importance": -0.001,
            "rank": None,
            "prevalence_target": 33.08,
            "prevalence_population": 68.19,
            "lift": 0.485,
        },
    ]
    html = render_html({"runs": [_run(importance=importance)]})
    bars = _svg(html, "importance").findall(f".//{SVG}rect")
    assert [b.get("data-category") for b in bars] == ["sessions", "plan"]  # only ranked features are charted
    rows = dict(re.findall(r'<tr data-feature="([^"]+)">(.*?)</tr>', html, flags=re.S))
    assert '<td class="num" data-field="rank">1</td>' in rows["sessions"]
    assert '<td class="num" data-field="rank">–</td>' in rows["unused"]
    assert ">mean<" in rows["sessions"] and ">7.840<" in rows["sessions"] and ">0.010<" in rows["sessions"]
    assert '<td class="num" data-field="lift" data-value="">–</td>' in rows["sessions"]
    assert ">share of category<" in rows["plan"] and ">32.5%<" in rows["plan"] and ">9.3%<" in rows["plan"]
    assert '<td class="num" data-field="lift" data-value="3.504">3.50</td>' in rows["plan"]
    assert ">share true<" in rows["unused"] and ">50.0%<" in rows["unused"]
    assert (
        ">mean<" in rows["old_numeric"]
        and '<td class="num" data-field="lift" data-value="">–</td>' in rows["old_numeric"]
    )


def test_long_feature_labels_are_shortened_in_the_middle_and_widen_the_label_column():
    names = [
        "aff_electronics_accessories_share_365d_of_the_customer_x",
        "aff_electronics_accessories_share_90d_of_the_customer_x",
        "x",
    ]
    assert short_label(names[0]) == names[0][:19] + "…" + names[0][-20:] == "aff_electronics_acc…5d_of_the_customer_x"
    root = parse_svg(hbar_chart("importance", "r", "t", names, [0.3, 0.2, 0.1], x_label="drop"))
    labels = [t for t in root.findall(f".//{SVG}text") if t.find(f"{SVG}title") is not None]
    assert [t.find(f"{SVG}title").text for t in labels] == names  # the full name as a tooltip
    shown = ["".join(t.itertext())[len(t.find(f"{SVG}title").text) :] for t in labels]
    assert shown[0] != shown[1] and shown[0].endswith("5d_of_the_customer_x") and len(shown[0]) == 40
    narrow = parse_svg(hbar_chart("importance", "r", "t", ["x"], [0.1], x_label="drop"))
    assert float(root.findall(f".//{SVG}rect")[0].get("x")) > float(narrow.findall(f".//{SVG}rect")[0].get("x")) + 100


# --- lift (issue 30 part 3, decision 0030) ------------------------------------------------------


def _lift_rows(published, holdout_rate=0.08, target_rate=0.12):
    d = target_rate - holdout_rate
    common = {"published_at": published, "lift_window_days": None, "window_end_at": None, "n_target_users": 8000}
    return [
        {**common, "lift_group": "rest", "n_users": 20000, "n_converted_users": 1000, "conversion_rate": 0.05,
         "conversion_rate_ci_low": 0.047, "conversion_rate_ci_high": 0.053, "mean_value": 1.5,
         "rate_difference": target_rate - 0.05, "rate_difference_ci_low": 0.06, "rate_difference_ci_high": 0.08,
         "mean_value_difference": 2.0, "mean_value_difference_ci_low": 1.0, "mean_value_difference_ci_high": 3.0},
        {**common, "lift_group": "target", "n_users": 8000, "n_converted_users": int(8000 * target_rate),
         "conversion_rate": target_rate, "conversion_rate_ci_low": 0.113, "conversion_rate_ci_high": 0.127,
         "mean_value": 3.5},
        {**common, "lift_group": "holdout", "n_users": 2000, "n_converted_users": int(2000 * holdout_rate),
         "conversion_rate": holdout_rate, "conversion_rate_ci_low": 0.069, "conversion_rate_ci_high": 0.093,
         "mean_value": 2.5, "rate_difference": d, "rate_difference_ci_low": d - 0.016,
         "rate_difference_ci_high": d + 0.016, "mean_value_difference": 1.0, "mean_value_difference_ci_low": -0.2,
         "mean_value_difference_ci_high": 2.2},
    ]  # fmt: skip


def test_lift_section_shows_the_latest_audience_build_and_its_verdict():
    old = _lift_rows(dt.datetime(2026, 5, 1), holdout_rate=0.10, target_rate=0.10)
    new = _lift_rows(dt.datetime(2026, 6, 1, 9, 30))
    html = render_html({"runs": [_run(lift=old + new)], "has_lift": True})
    table = re.search(r'<table data-table="lift" data-run="r1">.*?</table>', html, flags=re.S).group(0)
    assert re.findall(r'data-group="([a-z]+)"', table) == ["target", "holdout", "rest"]
    holdout = re.search(r'<tr data-group="holdout">.*?</tr>', table, flags=re.S).group(0)
    assert 'data-field="n_users" data-value="2000">2,000<' in holdout
    assert 'data-field="conversion_rate" data-value="0.08">8.0%<' in holdout
    d = 0.12 - 0.08
    assert f'data-low="{d - 0.016!r}" data-high="{d + 0.016!r}"' in holdout and ">2.40 to 5.60<" in holdout
    target = re.search(r'<tr data-group="target">.*?</tr>', table, flags=re.S).group(0)
    assert 'data-field="rate_difference" data-value="">–<' in target  # no difference on the target row
    verdict = " ".join(re.search(r'<p data-field="lift-verdict">(.*?)</p>', html, flags=re.S).group(1).split())
    assert verdict == (
        "Target 12.0% vs holdout 8.0% converted: <strong>+4.00 points</strong> (95 % CI 2.40 to 5.60; "
        "the audience converted more than its holdout)."
    )
    assert "Audience published 2026-06-01 09:30" in html and "The latest of 2 audience builds" in html


def test_lift_verdict_without_a_difference_and_without_intervals():
    flat = _lift_rows(dt.datetime(2026, 6, 1), holdout_rate=0.10, target_rate=0.10)
    for r in flat:
        if r["lift_group"] == "holdout":
            r.update(rate_difference_ci_low=-0.02, rate_difference_ci_high=0.02)
    html = render_html({"runs": [_run(lift=flat)], "has_lift": True})
    assert "not distinguishable from no lift" in html
    small = _lift_rows(dt.datetime(2026, 6, 1))
    for r in small:
        r.update(rate_difference_ci_low=None, rate_difference_ci_high=None, conversion_rate_ci_low=None)
    html = render_html({"runs": [_run(lift=small)], "has_lift": True})
    assert 'data-field="lift-verdict"' not in html and 'data-table="lift"' in html


def test_no_lift_section_without_outcomes():
    html = render_html({"runs": [_run()], "has_drift": True})
    assert "<h3>Lift</h3>" not in html and 'data-table="lift"' not in html
    html = render_html({"runs": [_run()], "has_lift": True})  # outcomes, but none for this run
    assert "<h3>Lift</h3>" in html and "No lift rows for this run" in html


def test_load_report_data_reads_the_lift_mart():
    con = duckdb.connect()
    _marts(con)
    data = load_report_data(MartReader(con))
    assert data["has_lift"] is False and data["runs"][0]["lift"] == []  # an older build: no lift table
    columns = _contract_columns()["lookalike_audience_lift"]
    con.execute(f"create table lookalike_audience_lift ({', '.join(f'{c} {t}' for c, t in columns.items())})")
    assert load_report_data(MartReader(con))["has_lift"] is False  # no outcomes input: empty
    for published in ("2026-05-01", "2026-06-01"):
        for group, n in (("target", 90), ("holdout", 10), ("rest", 900)):
            con.execute(
                "insert into lookalike_audience_lift (run_id, published_at, lift_group, n_users) values (?, ?, ?, ?)",
                ["r1", published, group, n],
            )
    data = load_report_data(MartReader(con))
    [run] = data["runs"]
    assert data["has_lift"] is True and run["lift_builds"] == 2
    assert [(r["lift_group"], r["n_users"], r["published_at"]) for r in run["lift"]] == [
        ("target", 90, dt.datetime(2026, 6, 1)),
        ("holdout", 10, dt.datetime(2026, 6, 1)),
        ("rest", 900, dt.datetime(2026, 6, 1)),
    ]
    assert run["lift_holdout"]["n_users"] == 10
