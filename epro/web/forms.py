"""Flask-WTF forms.  Labels are lazy so they follow the request's language."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks SelectChoice (WTForms 3.3)
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
)
from wtforms.validators import AnyOf, DataRequired, EqualTo, InputRequired, Length, NumberRange, Regexp

from epro.core.instruments.mmse import EDUCATION_LEVELS
from epro.services import records
from epro.services.passwords import MIN_LENGTH
from epro.services.trial import enrolment
from epro.web.account_forms import StrongPassword
from epro.web.fields import Form, RadioChoiceField, SelectChoiceField, TextField, service_check


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(_l("Please enter your username."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Please enter your password."))])


class ActivationCodeForm(FlaskForm):
    code = StringField(
        _l("Activation code"),
        validators=[DataRequired(_l("Please enter the code from your clinic."))],
    )


class SetPasswordForm(FlaskForm):
    code = StringField(validators=[DataRequired()])
    username = StringField(
        _l("Choose a username"),
        validators=[
            DataRequired(_l("Please choose a username.")),
            Length(min=3, max=40, message=_l("Between 3 and 40 characters.")),
            Regexp(r"^[A-Za-z0-9._-]+$", message=_l("Use letters, digits, dot, dash or underscore.")),
        ],
    )
    password = PasswordField(
        _l("Choose a password"),
        validators=[
            DataRequired(_l("Please choose a password.")),
            Length(min=MIN_LENGTH, max=200, message=_l("At least %(n)d characters.", n=MIN_LENGTH)),
            StrongPassword(),
        ],
    )
    confirm = PasswordField(
        _l("Type the password again"),
        validators=[EqualTo("password", message=_l("The two passwords are not the same."))],
    )


class EmptyForm(FlaskForm):
    """For POST-only buttons (logout, generate code): carries the CSRF token."""


class PatientDetailsForm(Form):
    """What every enrolment asks, on the clinic's enrolment page and when randomizing a candidate."""

    subject_code = TextField(
        _l("Subject code"),
        validators=[Regexp(r"^[A-Z0-9-]{2,32}$", message=_l("Letters, digits and dashes, 2 to 32 characters."))],
        max_len=32, upper=True, message=_l("Please enter the subject code."),
    )
    education = SelectChoiceField(
        _l("Education"), choices=[SelectChoice(code, _l(label)) for code, label in EDUCATION_LEVELS])
    language = RadioChoiceField(
        _l("Language for the patient"), default="zh",
        choices=[SelectChoice("zh", "中文", {"lang": "zh-Hans"}), SelectChoice("en", "English", {"lang": "en"})])

    def validate_subject_code(self, field: TextField) -> None:
        service_check(enrolment.subject_code_problems(field.data))


class EnrolPatientForm(PatientDetailsForm):
    """The clinic's enrolment page: the person's details and day 0 (no screening yet)."""

    birth_year = IntegerField(
        _l("Year of birth"),
        validators=[
            InputRequired(_l("Please enter the year of birth.")),
            NumberRange(min=1900, max=2100, message=_l("Please enter a year such as 1958.")),
        ],
    )
    sex = RadioField(_l("Sex"), choices=[SelectChoice("female", _l("Female")), SelectChoice("male", _l("Male"))],
                     validators=[InputRequired(_l("Please choose one."))])
    day0 = DateField(_l("Treatment date (day 0)"), validators=[InputRequired(_l("Please enter a date."))])
    #: A randomized study: register the patient without an arm for now (audited); allocation later.
    not_randomized = BooleanField(_l("Register as not yet randomized (no arm until allocation)"))

    def details(self) -> enrolment.PatientDetails:
        assert self.birth_year.data is not None  # validated: the field requires a year
        return enrolment.PatientDetails(
            subject_code=self.subject_code.data, birth_year=self.birth_year.data, sex=self.sex.data,
            education=self.education.data, language=self.language.data,
        )


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class RecordChangeForm(FlaskForm):
    """A change to a stored record carries the version the person saw (optimistic locking)."""

    version = HiddenField()


class ReasonForm(RecordChangeForm):
    """Unlock or remove a record: the reason is what the audit trail keeps (21 CFR 11.10(e))."""

    reason = StringField(filters=[_stripped], validators=[
        DataRequired(_l("Please give a reason for this change.")),
        Length(max=records.MAX_REASON, message=_l("The reason is too long (500 characters at most).")),
    ])


class SignatureForm(RecordChangeForm):
    """Sign a record: what the signature means, and the signer's password (21 CFR 11.50, 11.200)."""

    meaning = StringField(validators=[
        DataRequired(_l("Choose what the signature means.")),
        AnyOf(tuple(records.MEANINGS), message=_l("Choose what the signature means.")),
    ])
    #: Checked by the service, which audits a wrong password (signature_failed).
    password = PasswordField()


#: The form of each change the record page offers.
RECORD_CHANGES: dict[str, type[RecordChangeForm]] = {"sign": SignatureForm, "unlock": ReasonForm,
                                                      "remove": ReasonForm}


class ActivationRequestForm(FlaskForm):
    """Issue a one-time activation code: for the patient or for a caregiver (buttons, no typing)."""

    role = StringField(validators=[AnyOf(("patient", "caregiver"))])
