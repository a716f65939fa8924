"""riskgrade: declarative, explainable risk grading of supervised enterprises.

Load a rule pack (:func:`load_pack`), read records (:func:`load_records` or
:meth:`RecordSet.from_dicts`), and grade with a :class:`Grader`; every :class:`Decision` says
why and can be replayed for any past date.
"""

from riskgrade.compiled import RulePack, load_pack, load_pack_files
from riskgrade.decisions import Decision, Reason, TreatmentPlan
from riskgrade.errors import (
    EngineUnavailableError,
    EvaluationError,
    InputError,
    PackError,
    RiskgradeError,
    StorageError,
)
from riskgrade.evaluation import Evaluator
from riskgrade.grading import ENGINES, Explanation, Grader
from riskgrade.ledger import Ledger
from riskgrade.packs import PackRef
from riskgrade.records import (
    Complaint,
    Enforcement,
    Enterprise,
    Event,
    Incident,
    Inspection,
    Recheck,
    RecordSet,
    Rectification,
    SpotCheck,
    Void,
    load_records,
)

__all__ = [
    "ENGINES",
    "Complaint",
    "Decision",
    "Enforcement",
    "EngineUnavailableError",
    "Enterprise",
    "EvaluationError",
    "Evaluator",
    "Event",
    "Explanation",
    "Grader",
    "Incident",
    "InputError",
    "Inspection",
    "Ledger",
    "PackError",
    "PackRef",
    "Reason",
    "Recheck",
    "RecordSet",
    "Rectification",
    "RiskgradeError",
    "RulePack",
    "SpotCheck",
    "StorageError",
    "TreatmentPlan",
    "Void",
    "load_pack",
    "load_pack_files",
    "load_records",
]

__version__ = "0.1.0"
