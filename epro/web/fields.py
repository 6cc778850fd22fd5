"""Form fields read the way the clinic's forms always were, for every HTML form.

A blank input is "not given" (required: one message; optional: ``None``), a
wrong value gets one message that says what is expected, and the field keeps
the text as typed so an error costs nothing to fix.  Messages are lazy so they
follow the reader's language; their ids are the catalog's.

:class:`Form` names every problem in place: its own fields' and those a service
finds (:class:`epro.services.errors.Invalid`), with a line at the top for a
step the rules refuse (:class:`epro.services.errors.Refused`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import date, time
from typing import Any, TypeVar

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from wtforms import (  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks SelectChoice (WTForms 3.3)
    Field,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import StopValidation, ValidationError

from epro.services import unit_of_work
from epro.services.errors import FieldError, Invalid, Refused
from epro.web.messages import field_message, refusal_message

REQUIRED = _l("Please fill this in.")
CHOOSE = _l("Please choose one.")
NOT_A_DATE = _l("Please enter a date.")
NOT_A_TIME = _l("Please enter a time.")
NOT_A_NUMBER = _l("Please enter a number.")
NOT_WHOLE = _l("Please enter a whole number.")
IN_FUTURE = _l("This date is in the future.")

#: No date a trial records is older; earlier ones are typing slips (and overflow UTC at year 1).
EARLIEST_YEAR = 1900

T = TypeVar("T")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _values(choices: Any) -> list[str]:
    return [str(c.value if isinstance(c, SelectChoice) else c[0]) for c in choices or ()]


def _g(x: float | None) -> Any:
    """A bound of a range message, in the reader's decimal style when shown, never as 1e+12."""
    return "" if x is None else LazyString(format_decimal, x, "0.###")


class Form(FlaskForm):
    """A FlaskForm whose problems, its own and a service's, are shown next to their fields.

    ``today`` (the site's or patient's day) is what "in the future" means for
    its date fields.
    """

    def __init__(self, *args: Any, today: date | None = None, **kwargs: Any):
        self.today = today
        self.form_error: str | None = None
        self.refused_status: int | None = None
        super().__init__(*args, **kwargs)

    def submit(self, action: Callable[[], T], *, first: Callable[[], object] | None = None) -> T | None:
        """On a POST, run ``action`` (the service call) if every field is right; its result, else None.

        ``first`` asks the service whether the step is allowed at all, before
        any field is read.  Whatever the service refuses or finds wrong ends up
        on the form, and :attr:`status` says which (409 or 422).
        """
        if not self.is_submitted():
            return None
        try:
            if first is not None:
                first()
            if not self.validate():
                return None
            return action()
        except Invalid as exc:
            unit_of_work.fail()  # what the service added before saying no is not kept, nor shown
            self.attach(exc)
        except Refused as exc:
            unit_of_work.fail()
            self.refuse(exc)
        return None

    def attach(self, invalid: Invalid) -> None:
        """Show a service's field errors in place (a field the form lacks: at the top)."""
        for error in invalid.errors:
            field = self._fields.get(error.field)
            if field is None:
                self.form_error = self.form_error or field_message(error)
            else:
                field.errors = [*field.errors, field_message(error)]

    def refuse(self, refused: Refused) -> None:
        self.form_error = refusal_message(refused)
        self.refused_status = refused.status

    def problems(self) -> dict[str, str]:
        """{field name: its first message}, a refusal under "form"; in the order of the page."""
        out = {"form": self.form_error} if self.form_error else {}
        for name, field in self._fields.items():
            if field.errors:
                out[name] = str(field.errors[0])
        return out

    @property
    def status(self) -> int:
        """The page's status: a refusal's own (409), 422 when a field is wrong, else 200."""
        if self.refused_status is not None:
            return self.refused_status
        return 422 if self.problems() else 200


def service_check(errors: Iterable[FieldError]) -> None:
    """Inside a form validator: the first error a service's rule finds, as this field's message."""
    for error in errors:
        raise ValidationError(field_message(error))


class TextField(StringField):
    """Trimmed text; ``required`` may change before validation (a detail needed when not normal)."""

    data: Any  # a str once validated ("" when optional and blank)

    def __init__(self, label: Any = None, validators: Any = None, *, required: bool = True, max_len: int = 200,
                 message: Any = REQUIRED, upper: bool = False, **kwargs: Any):
        super().__init__(label, validators, filters=[_strip, *([_upper] if upper else [])], **kwargs)
        self.required, self.max_len, self.message = required, max_len, message

    def pre_validate(self, form: Any) -> None:
        if not self.data:
            self.data = ""
            raise StopValidation(self.message if self.required else "")
        if len(self.data) > self.max_len:
            raise StopValidation(_l("Too long (%(n)s characters at most).", n=self.max_len))


class _Parsed(Field):
    """A value parsed from one input; blank and wrong each have one message."""

    missing: Any = REQUIRED
    wrong: Any = REQUIRED
    data: Any

    def __init__(self, label: Any = None, validators: Any = None, *, required: bool = True, **kwargs: Any):
        super().__init__(label, validators, **kwargs)
        self.required = required
        self.raw: str | None = None
        self.wrong_value = False

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def show(self, value: Any) -> str:
        return str(value)

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw = valuelist[0].strip() if valuelist and isinstance(valuelist[0], str) else ""
        self.data, self.wrong_value = None, False
        if self.raw:
            try:
                self.data = self.parse(self.raw)
            except (ValueError, OverflowError):
                self.wrong_value = True

    def pre_validate(self, form: Any) -> None:
        if not self.raw:
            raise StopValidation(self.missing if self.required else "")
        if self.wrong_value:
            raise StopValidation(self.wrong)

    def _value(self) -> str:
        if self.raw is not None:
            return self.raw
        return "" if self.data is None else self.show(self.data)


class DayField(_Parsed):
    """A date (ISO, as a date input sends it); with ``not_future``, not after the form's ``today``."""

    missing = wrong = NOT_A_DATE

    def __init__(self, label: Any = None, validators: Any = None, *, not_future: bool = True, **kwargs: Any):
        super().__init__(label, validators, **kwargs)
        self.not_future = not_future

    def parse(self, text: str) -> date:
        day = date.fromisoformat(text)
        if day.year < EARLIEST_YEAR:  # year 1 cannot even be turned into UTC with a time of day
            raise ValueError(text)
        return day

    def show(self, value: date) -> str:
        return value.isoformat()

    def pre_validate(self, form: Any) -> None:
        super().pre_validate(form)
        if self.not_future and form.today is not None and self.data > form.today:
            raise StopValidation(IN_FUTURE)


class ClockField(_Parsed):
    """A time of day (as a time input sends it)."""

    missing = wrong = NOT_A_TIME

    def parse(self, text: str) -> time:
        return time.fromisoformat(text).replace(tzinfo=None)

    def show(self, value: time) -> str:
        return value.strftime("%H:%M")


class NumberField(_Parsed):
    """A number (thousands separators allowed), whole if asked, within [low, high]."""

    missing = NOT_A_NUMBER

    def __init__(self, label: Any = None, validators: Any = None, *, whole: bool = False,
                 low: float | None = None, high: float | None = None, range_message: Any = None, **kwargs: Any):
        super().__init__(label, validators, **kwargs)
        self.whole, self.low, self.high = whole, low, high
        self.wrong = NOT_WHOLE if whole else NOT_A_NUMBER
        self.range_message = range_message or _l("Please enter a number between %(low)s and %(high)s.",
                                                 low=_g(low), high=_g(high))

    def parse(self, text: str) -> float | int:
        text = text.replace(",", "")
        value = int(text) if self.whole else float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value

    def show(self, value: float | int) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    def pre_validate(self, form: Any) -> None:
        super().pre_validate(form)
        if (self.low is not None and self.data < self.low) or (self.high is not None and self.data > self.high):
            raise StopValidation(self.range_message)


class _OneOf:
    """One of the field's choices; blank is "not given", anything else unknown is "choose one"."""

    choices: Any
    data: Any

    def __init__(self, label: Any = None, validators: Any = None, *, required: bool = True, **kwargs: Any):
        super().__init__(label, validators, **kwargs)  # type: ignore[call-arg]
        self.required = required

    def process_formdata(self, valuelist: list[Any]) -> None:
        value = valuelist[0].strip() if valuelist and isinstance(valuelist[0], str) else ""
        self.data = value or None

    def pre_validate(self, form: Any) -> None:
        if self.data is None:
            raise StopValidation(CHOOSE if self.required else "")
        if self.data not in self.values:
            raise StopValidation(CHOOSE)

    @property
    def values(self) -> list[str]:
        return _values(self.choices)

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)


class RadioChoiceField(_OneOf, RadioField):
    """One of a few choices, as radio buttons."""


class SelectChoiceField(_OneOf, SelectField):
    """One of many choices, as a drop-down list."""


class YesNoField(RadioChoiceField):
    """A yes/no question; :attr:`answer` is True, False or None (not answered)."""

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any):
        choices = [SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))]
        super().__init__(label, validators, choices=choices, **kwargs)

    @property
    def answer(self) -> bool | None:
        return None if self.data not in ("yes", "no") else self.data == "yes"


class CheckboxesField(SelectMultipleField):
    """Several ticked boxes, in the order of the choices; an unknown one is a problem, not dropped."""

    def __init__(self, label: Any = None, validators: Any = None, *, none_message: Any = None, **kwargs: Any):
        super().__init__(label, validators, **kwargs)
        self.none_message = none_message

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = [v for v in valuelist if isinstance(v, str)]

    def pre_validate(self, form: Any) -> None:
        allowed = _values(self.choices)
        if any(v not in allowed for v in self.data or ()):
            raise StopValidation(CHOOSE)
        if not self.data and self.none_message:
            raise StopValidation(self.none_message)

    @property
    def chosen(self) -> list[str]:
        given = set(self.data or ())
        return [v for v in _values(self.choices) if v in given]
