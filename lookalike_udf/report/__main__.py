"""``python -m lookalike_udf.report --duckdb FILE --out FILE``: the same as ``lookalike report``."""

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
