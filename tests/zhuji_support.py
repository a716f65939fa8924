"""Shared set-up of the zhuji semantics tests: the pack, enterprises, and grading one history.

Expected values in the tests are worked out by hand from PACKS.md, never by running the code;
each test's comments show the arithmetic.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from riskgrade import Decision, Enterprise, load_pack
from riskgrade.testing import History, grade_one, level_timeline, make_enterprise

__all__ = [
    "ENGINE",
    "PACK",
    "ROOT",
    "W03",
    "W06",
    "W10",
    "History",
    "T",
    "d",
    "decide",
    "food",
    "industry",
    "raw_at",
    "timeline",
]

ROOT = Path(__file__).resolve().parents[1]
PACK = load_pack(ROOT / "rules" / "zhuji")

#: The evaluator the semantics tests grade with; every engine must pass them, so CI may run
#: them again with RISKGRADE_TEST_ENGINE set to another name of riskgrade.ENGINES.
ENGINE = os.environ.get("RISKGRADE_TEST_ENGINE", "python")

#: The usual as-of date, and one date in each recency band of it:
#: weight 1.0 in (2009-06-15, 2010-06-15], 0.6 in (2008-06-15, 2009-06-15],
#: 0.3 in (2007-06-15, 2008-06-15].
T = dt.date(2010, 6, 15)
W10 = dt.date(2010, 3, 1)
W06 = dt.date(2009, 3, 1)
W03 = dt.date(2008, 3, 1)


def d(text: str) -> dt.date:
    """A date from ``YYYY-MM-DD``."""
    return dt.date.fromisoformat(text)


def food(category: str | None = "packaged", enterprise_id: str = "E1") -> Enterprise:
    """A food enterprise; ``packaged`` (5 points) unless said otherwise, ``None``: no category."""
    attributes = {} if category is None else {"category": category}
    return make_enterprise(enterprise_id, scheme="food", attributes=attributes)


def industry(enterprise_id: str = "E1") -> Enterprise:
    """A regional-industry enterprise (hosiery, Datang)."""
    return make_enterprise(enterprise_id, scheme="industry", industry="socks", region="Datang")


def decide(enterprise: Enterprise, history: History, as_of: dt.date | str) -> Decision:
    """Grade one enterprise's history as of a date with the zhuji pack."""
    return grade_one(PACK, enterprise, history, as_of, engine=ENGINE)


def raw_at(enterprise: Enterprise, history: History, t: dt.date = T) -> Decision:
    """Grade as of ``t`` with a re-grade point on ``t`` itself, so score and raw level are t's.

    The marker adds no points and is no adverse event: a passed spot check for food (a scored
    scheme, where spot checks only count when failed) and a compliant inspection for industry
    (where every spot check counts towards "fewer than 2 spot checks").
    """
    if enterprise.scheme == "industry":
        history.inspection(t, id="marker")
    else:
        history.passed_check(t, id="marker")
    decision = decide(enterprise, history, t)
    assert t == decision.assessed_on
    return decision


def timeline(
    enterprise: Enterprise, history: History, as_of: dt.date | str
) -> list[tuple[dt.date, str | None, str | None]]:
    """``(re-grade date, level, transition)`` for every re-grade up to ``as_of``."""
    return level_timeline(PACK, enterprise, history, as_of, engine=ENGINE)
