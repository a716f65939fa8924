"""Answer an auditor's question: why is this enterprise in class D, and since when?

Run: python examples/why_class_d.py
"""

from __future__ import annotations

import datetime as dt

import riskgrade


def main() -> None:
    pack = riskgrade.load_pack("rules/zhuji")
    records = riskgrade.RecordSet.from_dicts(
        [
            {
                "id": "E1",
                "scheme": "industry",
                "name": "诸暨市大唐某袜业有限公司",
                "region": "Datang",
            }
        ],
        [
            {
                "id": "s1",
                "enterprise_id": "E1",
                "date": "2008-04-02",
                "type": "spot_check",
                "result": "pass",
            },
            {
                "id": "s2",
                "enterprise_id": "E1",
                "date": "2008-09-12",
                "type": "spot_check",
                "result": "fail",
                "items": [{"name": "纤维含量", "kind": "quality"}],
            },
            {
                "id": "x1",
                "enterprise_id": "E1",
                "date": "2009-01-20",
                "type": "enforcement",
                "penalty": "confiscation",
                "counterfeit": True,
            },
        ],
    )
    grader = riskgrade.Grader(pack, lang="zh")
    enterprise = records.enterprise("E1")
    explanation = grader.explain(enterprise, records.events_of("E1"), dt.date(2009, 7, 1))
    print(explanation.render("zh"))
    decision = explanation.decision
    assert decision.level == "D"
    assert decision.reasons[0].rule == "industry.d.counterfeit"
    assert decision.reasons[0].evidence == ("x1",)
    # The grade on any past date is a replay of the records known then:
    before = grader.decide(enterprise, records.events_of("E1"), dt.date(2009, 1, 19))
    assert before.level == "B"


if __name__ == "__main__":
    main()
