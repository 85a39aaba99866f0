"""The ``lookalike`` command (``[project.scripts]`` in pyproject.toml).

``lookalike report --duckdb lookalike.duckdb --out report.html`` writes the evaluation report of
the build in that file (see :mod:`lookalike_udf.report`). A missing folder of ``--out`` is created;
an unusable ``--out`` or ``--duckdb`` (a folder, a path under a file, a read-only folder, a file
that is not a DuckDB database, a locked one) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lookalike", description="Lookalike audiences: command-line tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    report = sub.add_parser(
        "report",
        help="write a static HTML evaluation report of a build",
        description="Read the public marts of a lookalike build and write one self-contained "
        "HTML file (inline SVG charts, no network).",
    )
    report.add_argument(
        "--duckdb",
        required=True,
        metavar="FILE",
        help="the DuckDB file dbt build wrote (LOOKALIKE_DUCKDB_PATH, default lookalike.duckdb)",
    )
    report.add_argument("--schema", default=None, help="schema of the marts (default: the database's default, main)")
    report.add_argument(
        "--out",
        default="lookalike_report.html",
        metavar="FILE",
        help="the HTML file to write (default: lookalike_report.html)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "report":
        from .report import MartReader, ReportInputError, write_report
        from .report.render import prepare_output

        try:
            prepare_output(args.out)  # before reading: a bad --out fails in a second, not after the report
            with MartReader.duckdb(args.duckdb, schema=args.schema) as reader:
                out = write_report(reader, args.out, source=str(args.duckdb))
        except ReportInputError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"lookalike report: wrote {out}")
        return 0
    return 1  # pragma: no cover (argparse requires a command)


if __name__ == "__main__":
    sys.exit(main())
