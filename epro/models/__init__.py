"""The database models, one module per idea, re-exported here."""
from epro.models.audit import AuditEvent
from epro.models.people import ROLES, ActivationCode, CaregiverLink, Patient, User
from epro.models.progress import PatientFlags, VisitProgress
from epro.models.responses import RESPONDENTS, Response, Signature
from epro.models.study import Arm, Site, Study, StudySite
from epro.models.trial import (
    AdverseEvent,
    AllocationSlot,
    Infusion,
    SafetyCheck,
    Screening,
    SymptomReport,
    Unblinding,
)

__all__ = [
    "AdverseEvent", "AllocationSlot", "Infusion", "SafetyCheck", "Screening", "StudySite", "SymptomReport",
    "Unblinding",
    "ROLES", "RESPONDENTS", "ActivationCode", "Arm", "AuditEvent", "CaregiverLink",
    "Patient", "PatientFlags", "Response", "Signature", "Site", "Study", "User", "VisitProgress",
]
