"""``lookalike report``: one static, self-contained HTML evaluation report per build.

It reads only the public marts (:mod:`.reader`), through any DB-API connection, and draws its
charts as inline SVG (:mod:`.svg`): no JavaScript, no network, no external file. The page's
Content-Security-Policy forbids loading anything, so it opens offline and prints.

>>> from lookalike_udf.report import MartReader, write_report
>>> # write_report(MartReader.duckdb("lookalike.duckdb"), "report.html")
"""

from .data import load_report_data
from .reader import MartReader, ReportInputError, ReportOutputError
from .render import render_html, write_report

__all__ = ["MartReader", "ReportInputError", "ReportOutputError", "load_report_data", "render_html", "write_report"]
