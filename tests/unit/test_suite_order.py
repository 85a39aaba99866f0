"""The suite's module order (tests/conftest.py): the slow modules listed first must exist."""

from __future__ import annotations

from conftest import REPO, SLOW_MODULES_FIRST, module_rank


def test_every_listed_slow_module_exists_once():
    missing = [m for m in SLOW_MODULES_FIRST if not (REPO / m).is_file()]
    assert missing == [], f"rename or drop these in SLOW_MODULES_FIRST: {missing}"
    assert len(set(SLOW_MODULES_FIRST)) == len(SLOW_MODULES_FIRST)


def test_listed_modules_come_first_in_their_order_and_the_rest_after():
    assert module_rank("tests/integration/test_spark_parity.py::test_x[a]") == 0
    assert module_rank(SLOW_MODULES_FIRST[-1] + "::t") == len(SLOW_MODULES_FIRST) - 1
    assert module_rank("tests/unit/test_kernel.py::t") == len(SLOW_MODULES_FIRST)
