"""The clinical engine: the clinic's MSC screening criteria as data and small typed functions.

Imports nothing from Flask and knows nothing about HTTP. Reason ids and the rules they stand
for are listed in docs/clinical-rules.md.
"""

from cds_service.clinical.engine import ClinicalEngine
from cds_service.clinical.ruleset import RulesetError

__all__ = ["ClinicalEngine", "RulesetError"]
