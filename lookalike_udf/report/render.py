"""Turn the report data (:mod:`.data`) into one self-contained HTML file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from .. import __version__
from .data import load_report_data, normalise_run
from .reader import MartReader, ReportOutputError
from .svg import Series, bar_chart, fmt, hbar_chart, line_chart, num, pct

SPLITS = ("train", "test")
#: Features drawn in the importance and drift charts (the tables list them all).
CHART_FEATURES = 15

#: What prevalence measures per feature kind (as lookalike_udf.quality.PREVALENCE_KIND; builds from
#: before the prevalence_kind column), and how the report names it.
PREVALENCE_KIND = {"numeric": "mean", "boolean": "share_true", "categorical": "top_category_share"}
PREVALENCE_LABEL = {"mean": "mean", "share_true": "share true", "top_category_share": "share of category"}

#: What a person should conclude from lookalike_runs.health.
VERDICT = {"healthy": "Usable", "warning": "Usable, with caveats", "unhealthy": "Not usable"}


def _ts(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _month(value: Any) -> str:
    if value is None:
        return "no timestamp"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m")
    return str(value)[:7]


def _share(v: float) -> str:
    return f"{100 * v:.0f}%"


def roc_chart(run: dict) -> Markup | None:
    roc = run.get("roc") or {}
    if not roc:
        return None
    series = []
    for split in SPLITS:
        if split in roc:
            auc = (run.get("metrics", {}).get(split) or {}).get("auc")
            series.append(Series(split, f"{split} (AUC {fmt(auc)})", points=roc[split]["points"]))
    return line_chart(
        "roc",
        run["run_id"],
        f"ROC curve of run {run['run_id']}",
        series,
        x_label="false positive rate",
        y_label="true positive rate",
        diagonal=True,
        legend="bottom-right",
    )


def gains_chart(run: dict) -> Markup | None:
    rows = run.get("gains") or []
    if not rows:
        return None
    series, top = [], 0.0
    for split in SPLITS:
        pts = [(r["fraction"], r["positive_rate"]) for r in rows if r["split"] == split]
        if not pts:
            continue
        series.append(
            Series(
                split, split, points=pts, extra=[{"data-n-users": r["n_users"]} for r in rows if r["split"] == split]
            )
        )
        overall = (run.get("metrics", {}).get(split) or {}).get("positive_rate")
        if overall is not None:
            series.append(
                Series(
                    f"random-{split}",
                    f"random ({split}: {pct(overall)})",
                    points=[(0.0, overall), (1.0, overall)],
                    markers=False,
                    dashed=True,
                )
            )
        top = max([top] + [y for _, y in pts if y is not None])
    y_max = min(1.0, max(0.1, round(top * 1.15 + 0.049, 1)))
    return line_chart(
        "gains",
        run["run_id"],
        f"Cumulative positive rate of run {run['run_id']}",
        series,
        x_label="top share of examples by score",
        y_label="positive rate",
        y_max=y_max,
        x_fmt=_share,
        y_fmt=_share,
        legend="top-right",
    )


def _decile_series(run: dict, field: str) -> tuple[list[str], list[Series]]:
    rows = run.get("deciles") or []
    categories = [str(d) for d in range(10)]
    series = []
    for split in SPLITS:
        by_decile = {int(r["decile"]): r for r in rows if r["split"] == split}
        if not by_decile:
            continue
        series.append(
            Series(
                split,
                split,
                values=[(by_decile.get(d) or {}).get(field) for d in range(10)],
                extra=[
                    {"data-decile": d, "data-n-users": (by_decile.get(d) or {}).get("n_users", "")} for d in range(10)
                ],
            )
        )
    return categories, series


def decile_rate_chart(run: dict) -> Markup | None:
    categories, series = _decile_series(run, "positive_rate")
    if not series:
        return None
    return bar_chart(
        "decile-rate",
        run["run_id"],
        f"Positive rate by score decile, run {run['run_id']}",
        categories,
        series,
        x_label="score decile (9 = highest scores)",
        y_label="positive rate",
        y_fmt=_share,
        share=True,
    )


def decile_lift_chart(run: dict) -> Markup | None:
    categories, series = _decile_series(run, "lift")
    if not series:
        return None
    return bar_chart(
        "decile-lift",
        run["run_id"],
        f"Lift by score decile, run {run['run_id']}",
        categories,
        series,
        x_label="score decile (9 = highest scores)",
        y_label="lift",
        reference=(1.0, "lift 1 = random"),
    )


def histogram_chart(run: dict) -> Markup | None:
    hist = run.get("histogram") or {}
    population, seeds = hist.get("population") or [], hist.get("seeds") or []
    n_pop, n_seed = sum(population), sum(seeds)
    if not n_pop and not n_seed:
        return None
    bins = hist.get("bins", len(population))
    categories = [f"{i / bins:.2f}" for i in range(bins)]
    series = []
    for name, label, counts, total in (
        ("population", f"scored users, not seeds (n={n_pop:,})", population, n_pop),
        ("seeds", f"seeds (n={n_seed:,})", seeds, n_seed),
    ):
        if total:
            series.append(
                Series(
                    name,
                    label,
                    values=[c / total for c in counts],
                    extra=[{"data-count": c, "data-bin-start": num(i / bins)} for i, c in enumerate(counts)],
                )
            )
    return bar_chart(
        "score-histogram",
        run["run_id"],
        f"Score distribution of run {run['run_id']}",
        categories,
        series,
        x_label="score (bins of 0.05)",
        y_label="share of the group",
        y_fmt=_share,
        tick_every=4,
        share=True,
    )


def calibration_chart(run: dict) -> Markup | None:
    rows = run.get("calibration") or []
    if not rows:
        return None
    series = [
        Series(
            split,
            split,
            points=[(r["mean_score"], r["positive_rate"]) for r in rows if r["split"] == split],
            extra=[{"data-decile": r["decile"], "data-n-users": r["n_users"]} for r in rows if r["split"] == split],
        )
        for split in SPLITS
        if any(r["split"] == split for r in rows)
    ]
    return line_chart(
        "calibration",
        run["run_id"],
        f"Calibration by decile, run {run['run_id']}",
        series,
        x_label="mean score in the decile",
        y_label="positive rate in the decile",
        diagonal=True,
    )


def ranked_importance(run: dict) -> list[dict]:
    """The run's features that have a rank (importance above the epsilon), in rank order."""
    return [r for r in run.get("importance") or [] if r.get("rank") is not None]


def importance_chart(run: dict) -> Markup | None:
    rows = ranked_importance(run)[:CHART_FEATURES]
    if not rows:
        return None
    return hbar_chart(
        "importance",
        run["run_id"],
        f"Permutation importance, run {run['run_id']}",
        [r["feature"] for r in rows],
        [r.get("importance") for r in rows],
        x_label="mean drop in test AUC when shuffled",
        series="importance",
        x_fmt=lambda v: f"{v:.3g}",
        extra=[{"data-rank": r.get("rank"), "data-lift": num(r.get("lift"))} for r in rows],
    )


def monthly_chart(run: dict) -> Markup | None:
    rows = run.get("monthly") or []
    if not rows:
        return None
    categories = [_month(r["label_month"]) for r in rows]
    series = [
        Series("labels", "labels", values=[r["n_labels"] for r in rows]),
        Series(
            "positive-labels",
            "positive labels",
            values=[r["n_positive_labels"] for r in rows],
            extra=[{"data-positive-rate": num(r["positive_rate"])} for r in rows],
        ),
    ]
    return bar_chart(
        "label-monthly",
        run["run_id"],
        f"Labels by month, run {run['run_id']}",
        categories,
        series,
        x_label="label month",
        y_label="labels",
        y_fmt=lambda v: f"{v:,.0f}",
        tick_every=max(1, -(-len(categories) // 6)),
    )


def drift_chart(run: dict) -> Markup | None:
    rows = (run.get("drift") or [])[:CHART_FEATURES]
    if not rows:
        return None
    return hbar_chart(
        "drift",
        run["run_id"],
        f"Feature drift (PSI), run {run['run_id']}",
        [r["feature"] for r in rows],
        [r.get("psi") for r in rows],
        x_label="PSI (population vs training)",
        series="psi",
        classes=[f"drift-{r.get('drift_level') or 'none'}" for r in rows],
        x_fmt=lambda v: f"{v:.2g}",
        references=[(0.1, "0.1"), (0.25, "0.25")],
    )


#: Label months listed in the report's table (the newest); earlier months are summed in one row.
#: The chart draws every month.
TABLE_MONTHS = 24


def monthly_table(run: dict) -> dict:
    """The labels-by-month table: the newest :data:`TABLE_MONTHS` months, one row summing the
    earlier ones (``earlier``: months, first and last month, labels, positives, positive rate; None
    when there are none) and the labels without a timestamp last."""
    rows = run.get("monthly") or []
    dated = [r for r in rows if r.get("label_month") is not None]
    undated = [r for r in rows if r.get("label_month") is None]
    shown, rest = dated[-TABLE_MONTHS:], dated[:-TABLE_MONTHS]
    earlier = None
    if rest:
        n_labels = sum(int(r.get("n_labels") or 0) for r in rest)
        n_positive = sum(int(r.get("n_positive_labels") or 0) for r in rest)
        earlier = {
            "n_months": len(rest),
            "first": rest[0]["label_month"],
            "last": rest[-1]["label_month"],
            "n_labels": n_labels,
            "n_positive_labels": n_positive,
            "positive_rate": n_positive / n_labels if n_labels else None,
        }
    return {"rows": shown + undated, "earlier": earlier}


CHARTS = {
    "roc": roc_chart,
    "gains": gains_chart,
    "decile_rate": decile_rate_chart,
    "decile_lift": decile_lift_chart,
    "score_histogram": histogram_chart,
    "calibration": calibration_chart,
    "importance": importance_chart,
    "label_monthly": monthly_chart,
    "drift": drift_chart,
}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lookalike_udf.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fmt=fmt, pct=pct, ts=_ts, month=_month, num=num)
    env.globals.update(
        VERDICT=VERDICT,
        CHART_FEATURES=CHART_FEATURES,
        TABLE_MONTHS=TABLE_MONTHS,
        PREVALENCE_KIND=PREVALENCE_KIND,
        PREVALENCE_LABEL=PREVALENCE_LABEL,
    )
    return env


def render_html(data: dict[str, Any], *, source: str = "", generated_at: dt.datetime | None = None) -> str:
    """The report as one HTML string from :func:`.data.load_report_data`'s dict (or hand-made rows)."""
    runs = []
    for run in map(normalise_run, data["runs"]):
        runs.append(
            {
                **run,
                "charts": {name: build(run) for name, build in CHARTS.items()},
                "monthly_table": monthly_table(run),
                "n_ranked": len(ranked_importance(run)),
            }
        )
    generated_at = generated_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            runs=runs,
            has_drift=data.get("has_drift", False),
            has_lift=data.get("has_lift", False),
            source=source,
            generated_at=_ts(generated_at),
            version=__version__,
        )
    )


def prepare_output(out: str | Path) -> Path:
    """``out`` as a path the report can be written to: a missing folder is created; a folder, a
    path under a file or an unwritable folder raise :class:`ReportOutputError` (one line naming
    ``--out`` and the fix). ``lookalike report`` calls it before reading the database."""
    out = Path(out)
    if out.is_dir():
        raise ReportOutputError(
            f"lookalike report: --out {out} is a folder; give a file name, e.g. --out {out / 'lookalike_report.html'}."
        )
    blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ReportOutputError(
            f"lookalike report: --out {out} is under {blocking}, which is a file, not a folder. "
            "Choose another --out path."
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportOutputError(
            f"lookalike report: cannot create the folder {out.parent} of --out {out} "
            f"({exc.strerror}). Choose a writable folder with --out."
        ) from exc
    return out


def write_report(reader: MartReader, out: str | Path, *, source: str = "") -> Path:
    """Read the marts through ``reader`` and write the report to ``out``; returns the path.

    A missing folder of ``out`` is created; an ``out`` that cannot be written raises
    :class:`ReportOutputError` (a :class:`ReportInputError`), never a bare OSError."""
    out = prepare_output(out)
    html = render_html(load_report_data(reader), source=source)
    try:
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ReportOutputError(
            f"lookalike report: cannot write --out {out} ({exc.strerror}). Choose a writable folder with --out."
        ) from exc
    return out
