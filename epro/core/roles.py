"""What each role may do: one table, read by access, masking, the guards and the pages.

Pure (no Flask, no database): a role name goes in, a frozen :class:`Capabilities`
comes out.  Code that needs to know whether someone may do something asks
``roles.of(user.role).<capability>`` (or one of the helpers below), never
``user.role == "…"``, so a role's meaning is written down once, here.

- clinician: masked, own site; enters and signs clinical data, answers queries.
- investigator: own site; enters and signs data; sees arms when the account is
  unblinded (``User.unblinded``) and is told of emergency unblindings.
- data-manager: every site, always masked, read-only for clinical data;
  exports, completion reports, the data-query overview (raises and closes queries).
- monitor: one site, always masked, read-only; raises and closes data queries
  and marks source-data verification (the query lifecycle: ``epro.core.queries``).
- statistician: every site's data, for exports only (no clinic pages); an unblinded
  account (``User.unblinded``) may export arms and doses, a masked one masked data only.
- admin: users, sites and studies; sees arms (as the study set-up needs), no patients.
- patient, caregiver: answer patient-reported questionnaires for themselves or
  the patients linked to them.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

#: Which patients a role may see: its own record, linked patients, its site's, every site's, none.
Scope = Literal["self", "linked", "site", "all", "none"]


@dataclass(frozen=True)
class Capabilities:
    #: Which patients: see :data:`Scope`.
    patients: Scope = "none"
    #: Works in the clinic pages (site list, timelines, records): the staff roles.
    reads_clinical: bool = False
    #: Changes clinical data: enrol, rate/assess, screening, allocation, infusions, adverse events,
    #: safety checks and reviews, activation codes for patients and caregivers.
    enters_data: bool = False
    #: Signs, unlocks and removes records (21 CFR 11 signature).
    signs: bool = False
    #: Records an emergency unblinding (ICH E6(R2) 4.7) for a patient of the site.
    unblinds: bool = False
    #: Sees arms when the account is marked unblinded (``User.unblinded``); False means never.
    may_be_unblinded: bool = False
    #: Sees arms whatever the account says (the administrator setting up studies).
    sees_arms_always: bool = False
    #: Sees the arms of an open-label study; the always-masked roles do not.
    sees_open_label_arms: bool = False
    #: Is told of the site's emergency unblindings.
    told_of_unblindings: bool = False
    #: Data exports (masked; unblinded too for an account that sees arms) and completion reports.
    exports: bool = False
    #: Raises data queries, sends them back, closes and cancels them (epro.core.queries).
    raises_queries: bool = False
    #: Marks a clinician's form as source-verified (source-data verification).
    verifies_source: bool = False
    #: Answers data queries raised on the site's records.
    answers_queries: bool = False
    #: Administers users, sites and studies.
    administers: bool = False
    #: Answers patient-reported questionnaires (itself or as a caregiver).
    answers_patient_reported: bool = False
    #: The respondent values this role may store.
    respondents: tuple[str, ...] = ()

    @property
    def sees_all_sites(self) -> bool:
        return self.patients == "all"

    @property
    def sees_own_site(self) -> bool:
        return self.patients == "site"

    @property
    def read_only(self) -> bool:
        """Reads clinical data but changes none of it (data manager, monitor)."""
        return self.reads_clinical and not self.enters_data

    def sees_arms(self, unblinded: bool) -> bool:
        """Every arm of a masked study, for an account whose ``unblinded`` flag is *unblinded*."""
        return self.sees_arms_always or (self.may_be_unblinded and unblinded)


_SITE_STAFF = Capabilities(patients="site", reads_clinical=True, enters_data=True, signs=True, unblinds=True,
                           may_be_unblinded=True, sees_open_label_arms=True, answers_queries=True,
                           respondents=("clinician",))

TABLE: dict[str, Capabilities] = {
    "patient": Capabilities(patients="self", answers_patient_reported=True, respondents=("patient",)),
    "caregiver": Capabilities(patients="linked", answers_patient_reported=True,
                              respondents=("caregiver-assisted", "caregiver-proxy")),
    "clinician": _SITE_STAFF,
    "investigator": replace(_SITE_STAFF, told_of_unblindings=True),
    "data-manager": Capabilities(patients="all", reads_clinical=True, exports=True, raises_queries=True),
    "monitor": Capabilities(patients="site", reads_clinical=True, raises_queries=True, verifies_source=True),
    "statistician": Capabilities(patients="all", exports=True, may_be_unblinded=True),
    "admin": Capabilities(sees_arms_always=True, administers=True),
}

#: Whoever is not a known role may do nothing.
NOTHING = Capabilities()

#: The capability names (for documentation and tests).
NAMES: tuple[str, ...] = tuple(f.name for f in fields(Capabilities))


def of(role: str | None) -> Capabilities:
    """The capabilities of *role*; nothing for an unknown role or None."""
    return TABLE.get(role or "", NOTHING)


def with_capability(name: str) -> tuple[str, ...]:
    """The roles that have the (boolean) capability *name*, in table order."""
    if name not in NAMES and not hasattr(Capabilities, name):
        raise KeyError(name)
    return tuple(role for role, caps in TABLE.items() if getattr(caps, name) is True)
