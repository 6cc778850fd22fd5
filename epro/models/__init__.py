"""The database models, one module per idea, re-exported here."""
from epro.models.audit import AuditEvent
from epro.models.exports import Export
from epro.models.people import DISPOSITIONS, ROLES, ActivationCode, CaregiverLink, Patient, RecoveryCode, User
from epro.models.progress import PatientFlags, VisitProgress
from epro.models.queries import DataQuery, QueryMessage, SourceVerification
from epro.models.reminders import PushSubscription, ReminderClaim, ReminderPreference
from epro.models.responses import RESPONDENTS, Response, Signature
from epro.models.security import RateCounter, SignInLock
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
from epro.models.worklists import AlertClaim, ContactCall

__all__ = [
    "AdverseEvent", "AllocationSlot", "Infusion", "SafetyCheck", "Screening", "StudySite", "SymptomReport",
    "Unblinding",
    "DISPOSITIONS", "ROLES", "RESPONDENTS", "RateCounter", "RecoveryCode", "SignInLock",
    "ActivationCode", "AlertClaim", "Arm", "AuditEvent", "CaregiverLink", "ContactCall", "DataQuery", "Export",
    "QueryMessage", "SourceVerification",
    "Patient", "PatientFlags",
    "PushSubscription", "ReminderClaim", "ReminderPreference",
    "Response", "Signature", "Site", "Study", "User", "VisitProgress",
]
