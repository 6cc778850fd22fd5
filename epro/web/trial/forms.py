"""The trial pages' forms: one per page, each turning what was typed into the typed
values a service of :mod:`epro.services.trial` takes.

A form checks shapes (a date not in the future, a number in range, one of a
list) and the pure rules of :mod:`epro.core`; for the rules that need the
database or the protocol it asks the service's ``*_problems`` functions, so
every problem shows at once, next to its field, in the reader's language.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectChoice, StringField  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks SelectChoice
from wtforms.validators import Regexp

from epro.core import instruments, labels
from epro.core.protocols import INVESTIGATOR, InfusionPlan, Protocol
from epro.core.trial import eligibility
from epro.core.trial import infusion as infusion_rules
from epro.core.trial import safety as safety_rules
from epro.models import Screening, Site, User
from epro.services import disposition
from epro.services import protocols as app_protocols
from epro.services.errors import Invalid
from epro.services.trial import allocation, infusions, safety, screening, studies
from epro.web.fields import (
    CHOOSE,
    CheckboxesField,
    ClockField,
    DayField,
    Form,
    NumberField,
    RadioChoiceField,
    SelectChoiceField,
    TextField,
    YesNoField,
    service_check,
)
from epro.web.forms import PatientDetailsForm

CODE_SHAPE = Regexp(r"^[A-Z0-9][A-Z0-9-]{1,31}$",
                    message=_l("Capital letters, digits and dashes, 2 to 32 characters."))
AFTER_SCREENING = _l("This date is after the screening date.")
ANSWER_ITEM = _l("Please choose an answer.")
END_BEFORE_ONSET = _l("The end date is before the onset.")
DETAIL_NEEDED = _l("Please describe what was found.")
BAD_WEIGHT = _l("Please enter the body weight in kilograms (20 to 250).")
#: Form field of an investigator-answered criterion.
CRITERION_FIELD = "criterion_{key}"
NIHSS = instruments.get("nihss")


def _codes(values: Any) -> list[SelectChoice]:
    return [SelectChoice(str(v), str(v)) for v in values]


def _moment(day_field: DayField, clock_field: ClockField, tz: str) -> datetime:
    """A site-local date and time as an aware datetime."""
    return datetime.combine(day_field.data, clock_field.data, ZoneInfo(tz))


def _shown(form: Form, *names: str) -> bool:
    """Whether these fields were read without a problem."""
    return all(not form[n].errors and form[n].data is not None for n in names)


def _attach(form: Form, errors: list) -> None:
    if errors:
        form.attach(Invalid(errors))


class TrialForm(Form):
    """A trial page's form: after its fields, the rules between fields (:meth:`cross_check`)."""

    def validate(self, extra_validators: Any = None) -> bool:
        super().validate(extra_validators)
        self.cross_check()
        return not self.problems()

    def cross_check(self) -> None:
        """Rules between fields and the service's rules; add errors to fields."""


# --- studies and the allocation list -------------------------------------------------


class NewStudyForm(TrialForm):
    code = TextField(validators=[CODE_SHAPE], max_len=32, upper=True)
    name = TextField(max_len=200, required=False)  # blank: the protocol's short title
    name_zh = TextField(max_len=200, required=False)
    protocol = RadioChoiceField(choices=[])
    sites = CheckboxesField(none_message=_l("Choose at least one site."))

    def __init__(self, *args: Any, sites: Sequence[Site], **kwargs: Any):
        super().__init__(*args, **kwargs)
        # The shipped protocols and those in PROTOCOL_DIRS, read when the page is asked for.
        self.protocol.choices = _codes(app_protocols.codes())
        self.sites.choices = [SelectChoice(str(s.id), s.code) for s in sites]
        self.site_by_id = {str(s.id): s for s in sites}

    def validate_code(self, field: TextField) -> None:
        service_check(studies.code_problems(field.data))

    def chosen_sites(self) -> list[Site]:
        return [self.site_by_id[i] for i in self.sites.chosen]


class AllocationListForm(TrialForm):
    seed = TextField(max_len=200)
    length = NumberField(whole=True, low=1, high=allocation.MAX_LENGTH)


# --- screening and randomization -------------------------------------------------------


class ScreeningForm(TrialForm):
    """The facts of a candidate; the NIHSS and the investigator's answers are added per protocol."""

    screening_code = TextField(validators=[CODE_SHAPE], max_len=32, upper=True)
    screened_on = DayField()
    birth_date = DayField()
    sex = RadioChoiceField(choices=_codes(eligibility.SEXES))
    childbearing_potential = YesNoField(required=False)
    pregnancy_test = RadioChoiceField(required=False, choices=_codes(eligibility.PREGNANCY_TEST_RESULTS))
    onset_date = DayField()

    protocol: Protocol
    existing: Screening | None

    def validate_screening_code(self, field: TextField) -> None:
        service_check(screening.code_problems(field.data))

    def investigator_criteria(self) -> list:
        return [c for c in self.protocol.eligibility if c.rule == INVESTIGATOR]

    def _nihss_given(self) -> dict[str, str]:
        return {i.key: self[i.key].data for i in NIHSS.items if self[i.key].data}

    def cross_check(self) -> None:
        female = self.sex.data == eligibility.FEMALE
        if not female:  # asked of women only: whatever else was sent is not read
            self.childbearing_potential.errors = []
        if not (female and self.childbearing_potential.answer):
            self.pregnancy_test.errors = []
        given = self._nihss_given()
        if given:  # nothing answered means "not done yet"; started means every item
            for error in NIHSS.validate(given):
                self[error.key].errors = [ANSWER_ITEM if error.code == "missing" else CHOOSE]
        screened_on = self.screened_on.data
        for field in (self.birth_date, self.onset_date):
            if field.data and screened_on and field.data > screened_on and not field.errors:
                field.errors = [AFTER_SCREENING]

    def entry(self) -> screening.ScreeningInput:
        female = self.sex.data == eligibility.FEMALE
        childbearing = self.childbearing_potential.answer if female else False
        given = self._nihss_given()
        nihss_answers, nihss_total = None, None
        if given:
            result = NIHSS.score(given)
            nihss_answers, nihss_total = dict(result.answers), int(result.total)
        answers = {}
        for c in self.investigator_criteria():
            answer = self[CRITERION_FIELD.format(key=c.key)].answer
            if answer is not None:
                answers[c.key] = answer
        facts = eligibility.ScreeningFacts(
            screening_date=self.screened_on.data, birth_date=self.birth_date.data, sex=self.sex.data,
            childbearing_potential=childbearing, onset_date=self.onset_date.data, nihss=nihss_total,
            pregnancy_test=self.pregnancy_test.data if female and childbearing else None, answers=answers,
        )
        code = self.existing.screening_code if self.existing else self.screening_code.data
        return screening.ScreeningInput(code, facts, nihss_answers, nihss_total)


def screening_form(protocol: Protocol, existing: Screening | None = None, **kwargs: Any) -> ScreeningForm:
    """The screening form of this protocol: the NIHSS items and its investigator-answered criteria."""

    class ProtocolScreeningForm(ScreeningForm):
        pass

    for item in NIHSS.items:  # checked together by the instrument (cross_check)
        setattr(ProtocolScreeningForm, item.key, StringField(filters=[lambda v: v.strip() if v else v]))
    for c in protocol.eligibility:
        if c.rule == INVESTIGATOR:
            setattr(ProtocolScreeningForm, CRITERION_FIELD.format(key=c.key), YesNoField(required=False))
    form = ProtocolScreeningForm(**kwargs)
    form.protocol, form.existing = protocol, existing
    if existing is not None:  # the code of a screening never changes
        del form.screening_code
    return form


def screening_values(s: Screening) -> dict[str, Any]:
    """A stored screening as the form's data, to complete or correct it."""
    values: dict[str, Any] = {
        "screened_on": s.screened_on, "birth_date": s.birth_date, "sex": s.sex, "onset_date": s.onset_date,
        "pregnancy_test": s.pregnancy_test,
        "childbearing_potential": ("yes" if s.childbearing_potential else "no")
        if s.sex == eligibility.FEMALE else None,
    }
    values.update({k: str(v) for k, v in (s.nihss_answers or {}).items()})
    values.update({CRITERION_FIELD.format(key=k): "yes" if v else "no" for k, v in (s.answers or {}).items()})
    return values


class RandomizeForm(PatientDetailsForm):
    """The enrolment fields a screened candidate still needs; the arm when staff choose it."""

    arm = RadioChoiceField()

    def __init__(self, *args: Any, arm_codes: Sequence[str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if arm_codes is None:
            del self.arm
        else:
            self.arm.choices = _codes(arm_codes)

    @property
    def arm_code(self) -> str | None:
        return self.arm.data if "arm" in self else None


# --- per patient --------------------------------------------------------------------------


class InfusionForm(TrialForm):
    given_on = DayField()
    given_time = ClockField()
    weight_kg = NumberField(low=infusion_rules.MIN_WEIGHT_KG, high=infusion_rules.MAX_WEIGHT_KG,
                            range_message=BAD_WEIGHT)
    cells = NumberField(required=False, whole=True, low=1, high=infusions.MAX_CELLS)
    volume_ml = NumberField(low=0.1, high=infusions.MAX_VOLUME_ML)
    lot = TextField(max_len=64)
    given_by = SelectChoiceField()
    reactions = TextField(required=False, max_len=2000)

    def __init__(self, *args: Any, plan: InfusionPlan | None, staff: Sequence[User], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.staff_by_id = {str(u.id): u for u in staff}
        self.given_by.choices = _codes(self.staff_by_id)

    def cross_check(self) -> None:
        if not self.cells.errors:
            weight = self.weight_kg.data if not self.weight_kg.errors else None
            _attach(self, infusions.dose_problems(self.plan, weight, self.cells.data))

    def entry(self, tz: str) -> infusions.InfusionEntry:
        return infusions.InfusionEntry(
            given_at=_moment(self.given_on, self.given_time, tz), weight_kg=float(self.weight_kg.data),
            cells=self.cells.data, volume_ml=float(self.volume_ml.data), lot=self.lot.data,
            given_by=self.staff_by_id[self.given_by.data], reactions=self.reactions.data,
        )


class SafetyCheckForm(TrialForm):
    lab = RadioChoiceField(choices=_codes(safety_rules.LAB_RESULTS))
    lab_detail = TextField(required=False, max_len=2000, message=DETAIL_NEEDED)
    neuro = RadioChoiceField(choices=_codes(safety_rules.NEURO_RESULTS))
    neuro_detail = TextField(required=False, max_len=2000, message=DETAIL_NEEDED)
    imaging = RadioChoiceField(choices=_codes(safety_rules.IMAGING_FINDINGS))
    imaging_detail = TextField(required=False, max_len=2000, message=DETAIL_NEEDED)
    reason = TextField(required=False, max_len=500)

    def __init__(self, *args: Any, patient: Any, visit_code: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.patient, self.visit_code = patient, visit_code

    def validate(self, extra_validators: Any = None) -> bool:
        # A detail is needed when the result is not normal.
        self.lab_detail.required = self.lab.data not in (None, "normal")
        self.neuro_detail.required = self.neuro.data == "abnormal"
        self.imaging_detail.required = self.imaging.data not in (None, "none")
        return super().validate(extra_validators)

    def cross_check(self) -> None:
        if not self.reason.errors:
            _attach(self, safety.check_problems(self.patient, self.visit_code, self.reason.data))

    def entry(self) -> safety.SafetyCheckEntry:
        return safety.SafetyCheckEntry(
            lab=self.lab.data, lab_detail=self.lab_detail.data, neuro=self.neuro.data,
            neuro_detail=self.neuro_detail.data, imaging=self.imaging.data, imaging_detail=self.imaging_detail.data,
        )


class AdverseEventForm(TrialForm):
    term = TextField(max_len=200)
    onset = DayField()
    end = DayField(required=False)
    grade = RadioChoiceField(choices=_codes(safety_rules.SEVERITY))
    serious_criteria = CheckboxesField(choices=_codes(safety_rules.SERIOUS_CRITERIA))
    relatedness = RadioChoiceField(choices=_codes(safety_rules.RELATEDNESS))
    action = RadioChoiceField(choices=_codes(safety_rules.ACTION_TAKEN))
    outcome = RadioChoiceField(choices=_codes(safety_rules.OUTCOME))
    aware_on = DayField()
    aware_time = ClockField()

    def cross_check(self) -> None:
        if self.onset.data and self.end.data and self.end.data < self.onset.data:
            self.end.errors = [*self.end.errors, END_BEFORE_ONSET]
        if (self.onset.data is not None and _shown(self, "grade", "relatedness", "action", "outcome")
                and not self.serious_criteria.errors):
            _attach(self, safety.event_problems(int(self.grade.data), self.relatedness.data, self.action.data,
                                                self.outcome.data, self.serious_criteria.chosen))

    def entry(self, tz: str) -> safety.AdverseEventEntry:
        return safety.AdverseEventEntry(
            term=self.term.data, onset=self.onset.data, end=self.end.data, grade=int(self.grade.data),
            serious_criteria=self.serious_criteria.chosen, relatedness=self.relatedness.data,
            action=self.action.data, outcome=self.outcome.data,
            aware_at=_moment(self.aware_on, self.aware_time, tz),
        )


class SymptomReportForm(TrialForm):
    """What a patient or caregiver reports from the app."""

    what = TextField(max_len=2000)
    since = DayField()
    severity = RadioChoiceField(choices=_codes(safety.SEVERITIES))
    hospital_visit = YesNoField()


class UnblindForm(TrialForm):
    reason = TextField(max_len=1000)


# --- the end of a patient's participation -------------------------------------------


class DispositionForm(TrialForm):
    """How the participation ended; the service (:mod:`epro.services.disposition`) checks the rest."""

    kind = RadioChoiceField(choices=[SelectChoice(k, _l(v)) for k, v in labels.DISPOSITIONS.items()])
    on = DayField()
    reason = TextField(required=False, max_len=disposition.MAX_REASON)
    consent_withdrawn = BooleanField()
    death_event = SelectChoiceField(required=False)

    def __init__(self, *args: Any, patient: Any, events: Sequence[tuple[int, str]] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.death_event.choices = [SelectChoice(str(i), text) for i, text in events]

    def cross_check(self) -> None:
        if self.kind.errors or self.on.errors:
            return
        _attach(self, [e for e in disposition.problems(
            self.patient, self.kind.data, self.on.data, self.reason.data, bool(self.consent_withdrawn.data),
            self.chosen_event()) if not self[e.field].errors])

    def chosen_event(self) -> Any:
        wanted = self.death_event.data
        return next((ae for ae in disposition.fatal_events(self.patient) if str(ae.id) == wanted), None)
