"""`lookalike report` end to end: demo build -> report -> a real headless Chromium.

The page is loaded from a file:// URL in headless Chromium driven over the DevTools protocol
(tests/integration/cdp.py). Checks: no console error, every chart of every run drawn with as many
points and bars as the marts have rows, the numbers equal the marts, the print layout. A full-page
screenshot and the printed PDF are kept under test-artifacts/ (or $LOOKALIKE_TEST_ARTIFACTS).
A missing or broken browser FAILS the test with the reason; it never skips.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from conftest import REPO, query, query_dicts, run_dbt
from integration.cdp import Browser, BrowserUnavailable
from lookalike_udf.report.data import ROC_STEP, thin_curve

pytestmark = pytest.mark.integration

ARTIFACTS = Path(os.environ.get("LOOKALIKE_TEST_ARTIFACTS", REPO / "test-artifacts"))

# Everything the assertions need from the rendered page, read by the browser itself.
EXTRACT = r"""
(() => {
  const charts = [...document.querySelectorAll('svg[data-chart]')].map(svg => {
    const box = svg.getBoundingClientRect();
    return {
      chart: svg.dataset.chart, run: svg.dataset.run, width: box.width, height: box.height,
      points: [...svg.querySelectorAll('circle.pt')].map(c => ({series: c.dataset.series, x: +c.dataset.x,
        value: +c.dataset.value, nUsers: c.dataset.nUsers === undefined ? null : +c.dataset.nUsers})),
      lines: [...svg.querySelectorAll('polyline')].map(p => ({series: p.dataset.series, n: +p.dataset.nPoints})),
      bars: [...svg.querySelectorAll('rect.bar')].map(r => ({series: r.dataset.series, category: r.dataset.category,
        value: +r.dataset.value, count: r.dataset.count === undefined ? null : +r.dataset.count,
        height: r.getBoundingClientRect().height, width: r.getBoundingClientRect().width})),
      legend: [...svg.querySelectorAll('.legend-text')].map(t => t.textContent),
      // y-axis tick labels (the left axis: text-anchor end), and every text drawn outside the chart's box
      yMax: svg.dataset.yMax === undefined ? null : +svg.dataset.yMax,
      yTicks: [...svg.querySelectorAll('g.axes text.tick[text-anchor="end"]')].map(t => t.textContent),
      labels: [...svg.querySelectorAll('text.tick')].map(t => ({text: t.textContent,
        title: t.querySelector('title') ? t.querySelector('title').textContent : null})),
      clipped: [...svg.querySelectorAll('text')].filter(t => {
        const r = t.getBoundingClientRect();
        return r.width > 0 && (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5);
      }).map(t => t.textContent),
    };
  });
  const overview = [...document.querySelectorAll('table[data-table="runs-overview"] tr[data-run]')].map(tr => {
    const f = {};
    tr.querySelectorAll('[data-field]').forEach(td => { f[td.dataset.field] = {text: td.textContent.trim(), value: td.dataset.value}; });
    return {run: tr.dataset.run, fields: f};
  });
  const kpis = [...document.querySelectorAll('section.run')].map(s => {
    const f = {};
    s.querySelectorAll('.kpi [data-field]').forEach(d => { f[d.dataset.field] = {text: d.textContent.trim(), value: d.dataset.value}; });
    return {run: s.dataset.run, fields: f,
            thresholds: s.querySelectorAll('table[data-table="thresholds"] tbody tr').length};
  });
  const tables = [...document.querySelectorAll('table[data-table]')].map(t => ({table: t.dataset.table, run: t.dataset.run,
    rows: t.querySelectorAll('tbody tr').length, height: t.getBoundingClientRect().height,
    visible: t.getBoundingClientRect().height > 0}));
  return JSON.stringify({charts, overview, kpis, tables, pageHeight: document.documentElement.scrollHeight,
                         title: document.title,
                         external: [...document.querySelectorAll('[src],[href]')].map(e => e.getAttribute('src') || e.getAttribute('href'))
                                     .filter(u => !u.startsWith('#'))});
})()
"""

PRINT_CHECK = r"""
JSON.stringify({
  body: getComputedStyle(document.body).backgroundColor,
  header: getComputedStyle(document.querySelector('header.top')).backgroundColor,
  runBreaks: [...document.querySelectorAll('section.run')].map(s => getComputedStyle(s).breakBefore),
  overflowing: [...document.querySelectorAll('table, svg.chart')]
    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .map(e => e.dataset.table || e.dataset.chart),
  closedDetailsShown: [...document.querySelectorAll('details table')].every(t => t.getBoundingClientRect().height > 0),
})
"""


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """One demo build for the module ($LOOKALIKE_REPORT_TEST_DB reuses a built file while developing)."""
    reuse = os.environ.get("LOOKALIKE_REPORT_TEST_DB")
    if reuse:
        return Path(reuse)
    work = tmp_path_factory.mktemp("report_demo")
    db = work / "demo.duckdb"
    run_dbt(["build"], db, work)
    return db


@pytest.fixture(scope="module")
def report(demo_db, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    proc = subprocess.run(
        [sys.executable, "-m", "lookalike_udf.report", "--duckdb", str(demo_db), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout
    return out


@pytest.fixture(scope="module")
def page(report, tmp_path_factory):
    """The report loaded in headless Chromium: (extracted page data, console errors, print data, browser)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        browser = Browser(tmp_path_factory.mktemp("chromium") / "profile").start()
    except BrowserUnavailable as exc:
        pytest.fail(f"the report's browser test needs headless Chromium and could not use it: {exc}", pytrace=False)
    try:
        # The console capture is live: a probe error must come back before the report is judged.
        browser.evaluate("console.error('lookalike-probe')")
        browser.call("Runtime.evaluate", {"expression": "1"})
        assert any("lookalike-probe" in e for e in browser.errors()), "console errors are not being captured"
        probe_events = len(browser.events)
        browser.open(report.as_uri())
        data = json.loads(browser.evaluate(EXTRACT))
        browser.call("Runtime.evaluate", {"expression": "1"})  # drain late events
        errors = [e for e in browser.errors() if "lookalike-probe" not in e]
        shot = browser.screenshot(ARTIFACTS / "report-e2e.png")
        print(f"\nreport screenshot: {shot}")
        # print media on an A4 page's width (210 mm - 2 x 12 mm margins = 703 CSS px)
        browser.call("Emulation.setEmulatedMedia", {"media": "print"})
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 703, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
        )
        printed = json.loads(browser.evaluate(PRINT_CHECK))
        browser.call("Emulation.setEmulatedMedia", {"media": ""})
        pdf = browser.print_pdf(ARTIFACTS / "report-e2e.pdf")
        yield {"data": data, "errors": errors, "print": printed, "pdf": pdf, "events_after_probe": probe_events}
    finally:
        browser.close()


def _charts(page) -> dict[tuple[str, str], dict]:
    return {(c["run"], c["chart"]): c for c in page["data"]["charts"]}


def test_no_console_errors_and_nothing_external(page):
    assert page["errors"] == []
    assert page["data"]["external"] == []
    assert page["data"]["title"] == "Lookalike evaluation report"


def test_every_chart_is_drawn_for_every_run(page, demo_db):
    charts = _charts(page)
    runs = query_dicts(demo_db, "select run_id, status from lookalike_runs")
    assert runs
    for run in runs:
        expected = {"roc", "gains", "decile-rate", "decile-lift", "calibration", "importance", "label-monthly", "drift"}
        if run["status"] == "FINISHED":
            expected.add("score-histogram")
        drawn = {chart for (run_id, chart) in charts if run_id == run["run_id"]}
        assert drawn == expected, run
    for chart in charts.values():
        assert chart["width"] > 200 and chart["height"] > 100, chart["chart"]  # laid out, visible


def test_overview_numbers_equal_lookalike_runs(page, demo_db):
    runs = {
        r["run_id"]: r
        for r in query_dicts(
            demo_db,
            """
        select r.*, s.n_positive_users, s.n_matched_labels
        from lookalike_runs r left join lookalike_input_label_summary s using (run_id)""",
        )
    }
    overview = {row["run"]: row["fields"] for row in page["data"]["overview"]}
    assert set(overview) == set(runs)
    for run_id, f in overview.items():
        r = runs[run_id]
        assert f["status"]["text"] == r["status"] and f["health"]["text"] == r["health"]
        assert f["quality_band"]["text"] == (r["quality_band"] or "–")
        assert float(f["test_auc"]["value"]) == pytest.approx(r["test_auc"], abs=1e-15)
        assert f["test_auc"]["text"] == f"{r['test_auc']:.3f}"
        assert int(f["n_positive_users"]["value"]) == r["n_positive_users"]
        assert int(f["n_matched_labels"]["value"]) == r["n_matched_labels"]
        assert int(f["n_scored_users"]["value"]) == r["n_scored_users"]
    kpis = {k["run"]: k for k in page["data"]["kpis"]}
    for run_id, r in runs.items():
        for key in ("test_auc", "train_auc", "test_ks", "train_ks"):
            assert float(kpis[run_id]["fields"][key]["value"]) == pytest.approx(r[key], abs=1e-15)
        n_thresholds = query(
            demo_db, f"select count(*) from lookalike_run_threshold_metrics where run_id = '{run_id}'"
        )[0][0]
        assert kpis[run_id]["thresholds"] == n_thresholds > 0


def test_roc_points_and_auc_match_the_marts(page, demo_db):
    charts = _charts(page)
    aucs = {(r, s): a for r, s, a in query(demo_db, "select run_id, split, auc from lookalike_run_metrics")}
    preds = defaultdict(list)
    for run_id, split, label, weight, score in query(
        demo_db, "select run_id, split, label, weight, score from lookalike_training_predictions"
    ):
        preds[(run_id, split)].append((label, weight, score))
    for (run_id, split), auc in aucs.items():
        chart = charts[(run_id, "roc")]
        pts = [(p["x"], p["value"]) for p in chart["points"] if p["series"] == split]
        y, w, s = (np.array(c, dtype=float) for c in zip(*preds[(run_id, split)], strict=True))
        fpr, tpr, _ = roc_curve(y, s, sample_weight=w, drop_intermediate=False)
        expected = thin_curve(list(zip(fpr, tpr, strict=False)), ROC_STEP)
        assert len(pts) == len(expected) == next(line["n"] for line in chart["lines"] if line["series"] == split)
        assert np.allclose(pts, expected, atol=1e-12)
        assert pts[0] == (0.0, 0.0) and pts[-1] == (1.0, 1.0)
        drawn_auc = float(np.trapezoid([p[1] for p in pts], [p[0] for p in pts]))
        assert drawn_auc == pytest.approx(auc, abs=0.01)  # thinning keeps the curve's area
        assert any(f"{split} (AUC {auc:.3f})" == text for text in chart["legend"])


def test_gains_deciles_and_calibration_equal_the_marts(page, demo_db):
    charts = _charts(page)
    gains = defaultdict(list)
    for run_id, split, fraction, rate in query(
        demo_db,
        """select run_id, split, fraction, positive_rate
            from lookalike_run_cumulative_positive_rates where direction = 'descending' order by fraction""",
    ):
        gains[(run_id, split)].append((fraction, rate))
    for (run_id, split), rows in gains.items():
        pts = [(p["x"], p["value"]) for p in charts[(run_id, "gains")]["points"] if p["series"] == split]
        assert len(pts) == len(rows) == 10
        assert np.allclose(pts, rows, rtol=0, atol=1e-15)
    deciles = query_dicts(demo_db, "select * from lookalike_run_deciles order by decile")
    for run_id in {d["run_id"] for d in deciles}:
        for split in ("train", "test"):
            rows = [d for d in deciles if d["run_id"] == run_id and d["split"] == split]
            for chart, field in (("decile-rate", "positive_rate"), ("decile-lift", "lift")):
                bars = [b for b in charts[(run_id, chart)]["bars"] if b["series"] == split]
                assert [b["category"] for b in bars] == [str(d["decile"]) for d in rows]
                assert [b["value"] for b in bars] == pytest.approx([d[field] for d in rows], abs=1e-15)
            # calibration deciles are computed by the report; they must be the mart's deciles
            cal = [p for p in charts[(run_id, "calibration")]["points"] if p["series"] == split]
            assert [p["nUsers"] for p in cal] == [d["n_users"] for d in rows]
            assert [p["value"] for p in cal] == pytest.approx([d["positive_rate"] for d in rows], abs=1e-9)
            assert all(
                d["min_score"] - 1e-12 <= p["x"] <= d["max_score"] + 1e-12 for p, d in zip(cal, rows, strict=True)
            )


def test_score_histogram_counts_equal_lookalike_user_scores(page, demo_db):
    charts = _charts(page)
    counts = query(
        demo_db,
        """select run_id, coalesce(is_seed_user, false), count(*)
                               from lookalike_user_scores group by all""",
    )
    assert counts
    for run_id, is_seed, n in counts:
        bars = [
            b
            for b in charts[(run_id, "score-histogram")]["bars"]
            if b["series"] == ("seeds" if is_seed else "population")
        ]
        assert len(bars) == 20
        assert sum(b["count"] for b in bars) == n
        assert sum(b["value"] for b in bars) == pytest.approx(1.0)


def test_importance_labels_and_drift_equal_the_marts(page, demo_db):
    charts = _charts(page)
    for (run_id,) in query(demo_db, "select run_id from lookalike_runs where status <> 'FAILED'"):
        imp = query(
            demo_db,
            f"select feature, importance from lookalike_feature_importance where run_id = '{run_id}' "
            "and rank is not null order by rank",
        )  # features the model does not rely on: no rank, no bar
        bars = charts[(run_id, "importance")]["bars"]
        assert [b["category"] for b in bars] == [f for f, _ in imp[:15]]
        assert [b["value"] for b in bars] == pytest.approx([v for _, v in imp[:15]], abs=1e-15)
        monthly = query(
            demo_db,
            f"""select n_labels, n_positive_labels from lookalike_label_monthly
                                     where run_id = '{run_id}' order by label_month nulls last""",
        )
        bars = charts[(run_id, "label-monthly")]["bars"]
        assert [b["value"] for b in bars if b["series"] == "labels"] == [m[0] for m in monthly]
        assert [b["value"] for b in bars if b["series"] == "positive-labels"] == [m[1] for m in monthly]
        drift = query(
            demo_db,
            f"""select feature, psi from lookalike_feature_drift where run_id = '{run_id}'
                                   order by psi desc nulls last, feature""",
        )
        bars = charts[(run_id, "drift")]["bars"]
        assert [b["category"] for b in bars] == [f for f, _ in drift[:15]]
        assert [b["value"] for b in bars] == pytest.approx([v for _, v in drift[:15]], abs=1e-15)


def test_print_layout(page, demo_db):
    printed = page["print"]
    assert printed["body"] == "rgb(255, 255, 255)"
    assert printed["header"] in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
    n_runs = query(demo_db, "select count(*) from lookalike_runs")[0][0]
    assert printed["runBreaks"] == ["page"] * n_runs
    assert printed["overflowing"] == []  # nothing cut off at the page's width
    assert printed["closedDetailsShown"]  # the tables folded on screen are printed
    pdf = page["pdf"]
    assert pdf.startswith(b"%PDF")
    # one page for the overview, then at least one per run (each run starts a page)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 1 + n_runs


# --- issue 25 item 9: axes, label clipping, the monthly table, on the demo and on a hand-made page --

RATE_CHARTS = ("decile-rate", "gains", "calibration", "score-histogram")


def _percent_ticks(chart) -> list[float]:
    return [float(t.rstrip("%")) for t in chart["yTicks"] if t.endswith("%")]


def _assert_readable(data):
    """Positive-rate and share axes end at 100 % at most; no chart text is drawn outside its chart."""
    for chart in data["charts"]:
        if chart["chart"] in RATE_CHARTS:
            ticks = _percent_ticks(chart) or [100 * float(t) for t in chart["yTicks"]]
            assert max(ticks) <= 100, (chart["run"], chart["chart"], chart["yTicks"])
    for chart in data["charts"]:
        assert chart["clipped"] == [], (chart["run"], chart["chart"], chart["clipped"])
        if chart["chart"] in RATE_CHARTS:
            assert chart["yMax"] is not None and chart["yMax"] <= 1.0, (chart["run"], chart["chart"], chart["yMax"])
        if chart["chart"] in ("importance", "drift"):
            labels = [label["title"] or label["text"] for label in chart["labels"] if label["title"] is not None]
            assert len(set(labels)) == len(labels)  # every feature label names its feature in full (title)


def test_rate_axes_end_at_100_percent_and_no_label_is_cut(page, demo_db):
    data = page["data"]
    _assert_readable(data)
    # the demo's top decile reaches 98.5 %: its axis ends at exactly 100 %, not 200 %
    top = query(demo_db, "select max(positive_rate) from lookalike_run_deciles")[0][0]
    assert top > 0.87
    assert max(max(_percent_ticks(c)) for c in data["charts"] if c["chart"] == "decile-rate") == 100
    n_runs = query(demo_db, "select count(*) from lookalike_runs")[0][0]
    print(f"page height {data['pageHeight']} px for {n_runs} runs")
    assert data["pageHeight"] < 4000 * n_runs + 1500


LONG_NAMES = [
    "aff_electronics_accessories_share_365d",
    "aff_electronics_accessories_share_90d",
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWW",
    "evt_support_contact_days_since_first_event",
    "x",
]


def _hand_made_run() -> dict:
    import datetime as dt

    months = [dt.date(2000 + m // 12, m % 12 + 1, 1) for m in range(300)]  # 25 years of monthly labels
    return {
        "run_id": "long_history",
        "status": "FINISHED",
        "health": "healthy",
        "test_auc": 0.8,
        "run_started_at": dt.datetime(2026, 1, 2),
        "metrics": {"test": {"auc": 0.8, "positive_rate": 0.5}},
        "roc": {"test": {"points": [(0, 0), (0.1, 0.7), (1, 1)]}},
        "gains": [
            {"split": "test", "fraction": f / 10, "positive_rate": 0.99 - f / 40, "n_users": f} for f in range(1, 11)
        ],
        "deciles": [
            {"split": "test", "decile": d, "positive_rate": 0.1 + d * 0.095, "lift": d / 2, "n_users": 10}
            for d in range(10)
        ],
        "calibration": [
            {"split": "test", "decile": d, "mean_score": d / 10, "positive_rate": d / 9.5, "n_users": 10}
            for d in range(10)
        ],
        "histogram": {"bins": 20, "population": [0] * 19 + [50], "seeds": [0] * 19 + [7]},
        "thresholds": [
            {
                "split": "test",
                "cutoff": "top_pct",
                "top_pct": 10,
                "threshold": 0.9,
                "n_predicted_positive": 3,
                "true_positive": 4.5,
                "false_positive": 1.0,
            }
        ],
        "importance": [
            {"feature": name, "feature_kind": "numeric", "importance": 0.3 / (i + 1), "rank": i + 1}
            for i, name in enumerate(LONG_NAMES)
        ],
        "monthly": [
            {"label_month": m, "n_labels": 10 + i % 7, "n_positive_labels": 3, "positive_rate": 3 / (10 + i % 7)}
            for i, m in enumerate(months)
        ],
        "drift": [{"feature": name, "psi": 0.05 * (i + 1), "drift_level": "none"} for i, name in enumerate(LONG_NAMES)],
    }


@pytest.fixture(scope="module")
def hand_made_page(tmp_path_factory):
    """A hand-made run (no build): 300 label months, long feature names, rates near 100 %."""
    from lookalike_udf.report import render_html

    out = tmp_path_factory.mktemp("hand_made") / "report.html"
    out.write_text(render_html({"runs": [_hand_made_run()], "has_drift": True}), encoding="utf-8")
    try:
        browser = Browser(tmp_path_factory.mktemp("chromium_hand_made") / "profile").start()
    except BrowserUnavailable as exc:
        pytest.fail(f"the report's browser test needs headless Chromium and could not use it: {exc}", pytrace=False)
    try:
        browser.open(out.as_uri())
        data = json.loads(browser.evaluate(EXTRACT))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.screenshot(ARTIFACTS / "report-hand-made.png")
        yield data
    finally:
        browser.close()


def test_hand_made_page_long_history_and_long_names(hand_made_page):
    data = hand_made_page
    monthly = next(t for t in data["tables"] if t["table"] == "label-monthly")
    # the last 24 months and one row for the 276 earlier ones: bounded, not 300 rows (12,000 px in issue 25)
    assert monthly["rows"] == 25 and monthly["height"] < 900, monthly
    assert data["pageHeight"] < 4500, data["pageHeight"]
    _assert_readable(data)
    chart = next(c for c in data["charts"] if c["chart"] == "label-monthly")
    assert len([b for b in chart["bars"] if b["series"] == "labels"]) == 300  # the chart keeps every month
    importance = next(c for c in data["charts"] if c["chart"] == "importance")
    assert [label["title"] for label in importance["labels"] if label["title"] is not None] == LONG_NAMES
