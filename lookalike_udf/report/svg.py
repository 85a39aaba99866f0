"""Small inline-SVG chart builders (no JavaScript, no external files).

Every chart is an ``<svg>`` with ``data-chart`` (its kind) and ``data-run``; every point is a
``<circle class="pt">`` and every bar a ``<rect class="bar">`` carrying ``data-series`` and
``data-value`` (the exact number, ``repr`` of the float), so tests can count them and compare
them with the marts. Text is escaped; the functions return :class:`markupsafe.Markup`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

WIDTH, HEIGHT = 400, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 14, 46
#: Font size of tick labels (px, as the report's CSS sets it) and the longest feature label drawn in
#: full in the horizontal bar charts; longer names are shortened in the middle (their start and their
#: end, where windows such as _30d / _365d differ), with the full name as a tooltip (<title>).
TICK_FONT_PX = 10.5
MAX_LABEL_CHARS = 40


def num(value) -> str:
    """The exact value for a ``data-value`` attribute ('' for none)."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def fmt(value, digits: int = 3) -> str:
    """A number as shown to people ('–' for none).

    >>> fmt(0.81770833), fmt(None), fmt(1234567), fmt(12.5, 1)
    ('0.818', '–', '1,234,567', '12.5')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def pct(value, digits: int = 1) -> str:
    """A share as a percentage ('–' for none). ``pct(0.3671)`` is ``'36.7%'``."""
    if value is None:
        return "–"
    return f"{100 * value:.{digits}f}%"


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (1 for 0 or less).

    >>> nice_max(0.37), nice_max(7), nice_max(1300), nice_max(0)
    (0.4, 10.0, 2000.0, 1.0)
    """
    if not value or value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 4, 5, 10):
        if value <= m * power * (1 + 1e-12):
            return float(m * power)
    return float(10 * power)


def share_axis_max(top: float) -> float:
    """The y-axis end of a positive rate or share (0..1): the data's maximum with 15 % headroom,
    rounded up to a nice number, never above 1 (100 %).

    >>> share_axis_max(0.985), share_axis_max(0.3), share_axis_max(0.0)
    (1.0, 0.4, 0.1)
    """
    return min(1.0, nice_max(max(top, 0.085) * 1.15))


def text_width(text: str, font_px: float = TICK_FONT_PX) -> float:
    """A generous estimate of ``text``'s drawn width in px (sans-serif): wide letters count more."""
    em = 0.0
    for ch in text:
        if ch in "MW@%mw":
            em += 1.05
        elif ch.isupper() or ch.isdigit() or ch in "#&?":
            em += 0.72
        elif ch in "ijlt.,:;'|!()[] ":
            em += 0.36
        else:
            em += 0.62
    return em * font_px


def short_label(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """``text`` when it has at most ``limit`` characters, else its start and end around an ellipsis.

    >>> short_label("aff_electronics_accessories_share_365d_and_some_more_words", 30)
    'aff_electronic…some_more_words'
    """
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


@dataclass
class Series:
    """One line (``points``) or one set of bars (``values``) of a chart."""

    name: str  # data-series, and the CSS class s-<name>
    label: str  # legend text
    points: Sequence[tuple[float, float]] = ()
    values: Sequence[float | None] = ()
    markers: bool = True  # draw (and count) point markers
    dashed: bool = False
    extra: Sequence[dict] = field(default_factory=list)  # per point/bar: more data-* attributes


class _Frame:
    def __init__(
        self,
        x_max: float,
        y_max: float,
        x_min: float = 0.0,
        y_min: float = 0.0,
        width: int = WIDTH,
        height: int = HEIGHT,
        left: int = LEFT,
    ):
        self.x_min, self.x_max, self.y_min, self.y_max = x_min, x_max, y_min, y_max
        self.width, self.height, self.left = width, height, left
        self.plot_w = width - left - RIGHT
        self.plot_h = height - TOP - BOTTOM

    def x(self, v: float) -> float:
        span = (self.x_max - self.x_min) or 1.0
        return round(self.left + (v - self.x_min) / span * self.plot_w, 2)

    def y(self, v: float) -> float:
        span = (self.y_max - self.y_min) or 1.0
        return round(TOP + self.plot_h - (v - self.y_min) / span * self.plot_h, 2)


def _attrs(d: dict) -> str:
    return "".join(f' {k}="{escape(v)}"' for k, v in d.items())


def _open(chart: str, run: str, frame: _Frame, title: str, extra: dict | None = None) -> list[str]:
    attrs = {"data-chart": chart, "data-run": run, **(extra or {})}
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {frame.width} {frame.height}" '
        f'width="{frame.width}" height="{frame.height}" role="img" aria-label="{escape(title)}"{_attrs(attrs)}>',
        f"<title>{escape(title)}</title>",
    ]


def _axes(
    frame: _Frame,
    x_label: str,
    y_label: str,
    y_fmt: Callable[[float], str],
    x_ticks: Sequence[tuple[float, str]] | None,
    n_y: int = 5,
) -> list[str]:
    out = ['<g class="axes">']
    bottom, right = TOP + frame.plot_h, frame.left + frame.plot_w
    for i in range(n_y + 1):
        v = frame.y_min + (frame.y_max - frame.y_min) * i / n_y
        y = frame.y(v)
        out.append(f'<line class="grid" x1="{frame.left}" x2="{right}" y1="{y}" y2="{y}"/>')
        out.append(f'<text class="tick" x="{frame.left - 5}" y="{y + 3.5}" text-anchor="end">{escape(y_fmt(v))}</text>')
    for v, text in x_ticks or ():
        x = frame.x(v)
        out.append(f'<line class="tickmark" x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 4}"/>')
        out.append(f'<text class="tick" x="{x}" y="{bottom + 15}" text-anchor="middle">{escape(text)}</text>')
    out.append(f'<line class="axis" x1="{frame.left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
    out.append(f'<line class="axis" x1="{frame.left}" x2="{frame.left}" y1="{TOP}" y2="{bottom}"/>')
    out.append(
        f'<text class="label" x="{frame.left + frame.plot_w / 2}" y="{frame.height - 6}" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append(
        f'<text class="label" transform="translate(12 {TOP + frame.plot_h / 2}) rotate(-90)" text-anchor="middle">{escape(y_label)}</text>'
    )
    out.append("</g>")
    return out


def _legend(series: Sequence[Series], frame: _Frame, x0: float | None = None, y0: float | None = None) -> list[str]:
    out = ['<g class="legend">']
    x = frame.left + 8 if x0 is None else x0
    y = TOP + 10 if y0 is None else y0
    for s in series:
        if not s.label:
            continue
        dash = ' stroke-dasharray="4 3"' if s.dashed else ""
        out.append(f'<line class="line s-{escape(s.name)}" x1="{x}" x2="{x + 16}" y1="{y - 3}" y2="{y - 3}"{dash}/>')
        out.append(f'<text class="legend-text" x="{x + 20}" y="{y}">{escape(s.label)}</text>')
        y += 13
    out.append("</g>")
    return out


def line_chart(
    chart: str,
    run: str,
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    x_max: float = 1.0,
    y_max: float = 1.0,
    diagonal: bool = False,
    x_fmt: Callable[[float], str] = lambda v: f"{v:g}",
    y_fmt: Callable[[float], str] = lambda v: f"{v:g}",
    legend: str = "top-left",
) -> Markup:
    """Lines with point markers. ``diagonal`` draws the chance line y = x.

    ``legend``: top-left, top-right or bottom-right (inside the plot).
    """
    frame = _Frame(x_max, y_max)
    out = _open(chart, run, frame, title, {"data-y-max": num(float(y_max))})
    ticks = [(x_max * i / 5, x_fmt(x_max * i / 5)) for i in range(6)]
    out += _axes(frame, x_label, y_label, y_fmt, ticks)
    if diagonal:
        out.append(
            f'<line class="line s-chance" data-series="chance" x1="{frame.x(0)}" y1="{frame.y(0)}" '
            f'x2="{frame.x(min(x_max, y_max))}" y2="{frame.y(min(x_max, y_max))}" stroke-dasharray="4 3"/>'
        )
    for s in series:
        pts = [(x, y) for x, y in s.points if x is not None and y is not None]
        if not pts:
            continue
        dash = ' stroke-dasharray="4 3"' if s.dashed else ""
        coords = " ".join(f"{frame.x(x)},{frame.y(y)}" for x, y in pts)
        out.append(
            f'<polyline class="line s-{escape(s.name)}" data-series="{escape(s.name)}" '
            f'data-n-points="{len(pts)}" points="{coords}"{dash}/>'
        )
        if s.markers:
            out.append(f'<g class="points" data-series="{escape(s.name)}">')
            for i, (x, y) in enumerate(pts):
                extra = _attrs(s.extra[i]) if i < len(s.extra) else ""
                out.append(
                    f'<circle class="pt s-{escape(s.name)}" cx="{frame.x(x)}" cy="{frame.y(y)}" r="2.2" '
                    f'data-series="{escape(s.name)}" data-x="{num(x)}" data-value="{num(y)}"{extra}>'
                    f"<title>{escape(s.label)}: {escape(x_fmt(x))}, {escape(y_fmt(y))}</title></circle>"
                )
            out.append("</g>")
    n_labels = sum(1 for s in series if s.label)
    x0 = frame.left + frame.plot_w - 130 if legend.endswith("right") else None
    y0 = TOP + frame.plot_h - 13 * n_labels - 2 if legend.startswith("bottom") else None
    out += _legend(series, frame, x0=x0, y0=y0)
    out.append("</svg>")
    return Markup("\n".join(out))


def bar_chart(
    chart: str,
    run: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    y_max: float | None = None,
    y_fmt: Callable[[float], str] = lambda v: f"{v:g}",
    reference: tuple[float, str] | None = None,
    tick_every: int = 1,
    share: bool = False,
) -> Markup:
    """Vertical bars, one group per category, one bar per series (``Series.values``).

    ``share``: the values are rates or shares (0..1), so the axis ends at 100 % at most
    (:func:`share_axis_max`)."""
    values = [v for s in series for v in s.values if v is not None]
    top = max(values + ([reference[0]] if reference else []), default=0.0)
    if y_max is None:
        # headroom for the legend in the top-left corner
        y_max = share_axis_max(top) if share else nice_max(top * 1.15)
    frame = _Frame(len(categories), y_max)
    out = _open(chart, run, frame, title, {"data-y-max": num(float(y_max))})
    ticks = [(i + 0.5, c) for i, c in enumerate(categories) if i % tick_every == 0]
    out += _axes(frame, x_label, y_label, y_fmt, ticks)
    group_w = frame.plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for k, s in enumerate(series):
        out.append(f'<g class="bars" data-series="{escape(s.name)}">')
        for i, v in enumerate(s.values):
            if v is None:
                continue
            x = round(frame.left + i * group_w + group_w * 0.1 + k * bar_w, 2)
            y0, y1 = frame.y(0), frame.y(v)
            extra = _attrs(s.extra[i]) if i < len(s.extra) else ""
            out.append(
                f'<rect class="bar s-{escape(s.name)}" x="{x}" y="{min(y0, y1)}" width="{round(bar_w, 2)}" '
                f'height="{round(abs(y0 - y1), 2)}" data-series="{escape(s.name)}" '
                f'data-category="{escape(categories[i])}" data-value="{num(v)}"{extra}>'
                f"<title>{escape(s.label)}, {escape(categories[i])}: {escape(y_fmt(v))}</title></rect>"
            )
        out.append("</g>")
    if reference is not None:
        y = frame.y(reference[0])
        out.append(
            f'<line class="line s-reference" data-series="reference" data-value="{num(reference[0])}" '
            f'x1="{frame.left}" x2="{frame.left + frame.plot_w}" y1="{y}" y2="{y}" stroke-dasharray="4 3"/>'
        )
        out.append(f'<text class="legend-text" x="{frame.left + 4}" y="{y - 4}">{escape(reference[1])}</text>')
    out += _legend(series, frame)
    out.append("</svg>")
    return Markup("\n".join(out))


def hbar_chart(
    chart: str,
    run: str,
    title: str,
    categories: Sequence[str],
    values: Sequence[float | None],
    *,
    x_label: str,
    series: str = "value",
    classes: Sequence[str] | None = None,
    x_fmt: Callable[[float], str] = lambda v: f"{v:g}",
    references: Sequence[tuple[float, str]] = (),
    extra: Sequence[dict] = (),
) -> Markup:
    """Horizontal bars, one per category (features), labels on the left; negative values go left of 0."""
    row_h = 17
    present = [v for v in values if v is not None] + [r[0] for r in references]
    hi = nice_max(max(present + [0.0]))
    lo = -nice_max(-min(present)) if present and min(present) < 0 else 0.0
    height = TOP + BOTTOM + row_h * max(len(categories), 1)
    # The labels' column is as wide as the longest (shortened) label; the plot keeps its width.
    labels = [short_label(cat) for cat in categories]
    left = int(max(120, math.ceil(max((text_width(t) for t in labels), default=0.0)) + 14))
    frame = _Frame(hi, 1.0, x_min=lo, width=WIDTH + 60 + left - 170, height=height, left=left)
    out = _open(chart, run, frame, title)
    n_ticks = 4
    out.append('<g class="axes">')
    bottom = TOP + frame.plot_h
    for i in range(n_ticks + 1):
        v = lo + (hi - lo) * i / n_ticks
        x = frame.x(v)
        out.append(f'<line class="grid" x1="{x}" x2="{x}" y1="{TOP}" y2="{bottom}"/>')
        out.append(f'<text class="tick" x="{x}" y="{bottom + 15}" text-anchor="middle">{escape(x_fmt(v))}</text>')
    out.append(f'<line class="axis" x1="{frame.x(0)}" x2="{frame.x(0)}" y1="{TOP}" y2="{bottom}"/>')
    out.append(
        f'<text class="label" x="{frame.left + frame.plot_w / 2}" y="{frame.height - 6}" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append("</g>")
    out.append(f'<g class="bars" data-series="{escape(series)}">')
    for i, (cat, v, label) in enumerate(zip(categories, values, labels, strict=False)):
        y = TOP + i * row_h
        out.append(
            f'<text class="tick" x="{frame.left - 6}" y="{y + row_h * 0.68}" text-anchor="end">'
            f"<title>{escape(cat)}</title>{escape(label)}</text>"
        )
        if v is None:
            continue
        x0, x1 = frame.x(0), frame.x(v)
        cls = f" {classes[i]}" if classes else ""
        more = _attrs(extra[i]) if i < len(extra) else ""
        out.append(
            f'<rect class="bar s-{escape(series)}{escape(cls)}" x="{min(x0, x1)}" y="{y + 2}" '
            f'width="{round(abs(x1 - x0), 2)}" height="{row_h - 4}" data-series="{escape(series)}" '
            f'data-category="{escape(cat)}" data-value="{num(v)}"{more}>'
            f"<title>{escape(cat)}: {escape(x_fmt(v))}</title></rect>"
        )
    out.append("</g>")
    for value, text in references:
        x = frame.x(value)
        out.append(
            f'<line class="line s-reference" data-series="reference" data-value="{num(value)}" '
            f'x1="{x}" x2="{x}" y1="{TOP}" y2="{bottom}" stroke-dasharray="4 3"/>'
        )
        if x + 3 + text_width(text) > frame.width:  # at the right edge: the label goes left of the line
            out.append(f'<text class="legend-text" x="{x - 3}" y="{TOP + 9}" text-anchor="end">{escape(text)}</text>')
        else:
            out.append(f'<text class="legend-text" x="{x + 3}" y="{TOP + 9}">{escape(text)}</text>')
    out.append("</svg>")
    return Markup("\n".join(out))
