"""Forms of a person's own sign-in: password strength, change, reset, second factor."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from epro.services.passwords import MIN_LENGTH, feedback
from epro.web.fields import Form


class StrongPassword:
    """zxcvbn's judgement (score 3 or more), with its reasons in the reader's language.

    Words an attacker knows are the form's ``username`` field, the form's
    ``related_words`` and "epro".
    """

    def __call__(self, form: Any, field: Any) -> None:
        if field.errors:  # too short or too long is said already
            return
        related = ["epro", *getattr(form, "related_words", ())]
        if "username" in form._fields:
            related.append(form._fields["username"].data or "")
        ids = feedback(field.data or "", [w for w in related if w])
        if ids:
            raise ValidationError(" ".join(gettext(m, n=MIN_LENGTH) for m in ids))


def _new_password_fields() -> tuple[PasswordField, PasswordField]:
    return (
        PasswordField(_l("New password"), validators=[
            DataRequired(_l("Please choose a password.")),
            Length(max=200, message=_l("The password is too long (200 characters at most).")),
            StrongPassword(),
        ]),
        PasswordField(_l("Type the new password again"),
                      validators=[EqualTo("password", message=_l("The two passwords are not the same."))]),
    )


class ChangePasswordForm(Form):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(_l("Please enter your current password."))])
    password, confirm = _new_password_fields()

    def __init__(self, *args: Any, related_words: tuple[str, ...] = (), **kwargs: Any):
        self.related_words = related_words
        super().__init__(*args, **kwargs)


class ResetPasswordForm(Form):
    """A reset code's second step: the username is fixed (shown, not typed)."""

    code = StringField(validators=[DataRequired()])
    password, confirm = _new_password_fields()

    def __init__(self, *args: Any, related_words: tuple[str, ...] = (), **kwargs: Any):
        self.related_words = related_words
        super().__init__(*args, **kwargs)


class SecondFactorCodeForm(Form):
    never_kept = frozenset({"code"})  # a one-time code stays out of the session (epro.web.prg)
    code = StringField(_l("Code"), validators=[DataRequired(_l("Please type the code."))],
                       filters=[lambda v: v.strip() if isinstance(v, str) else v])


class DisableSecondFactorForm(Form):
    never_kept = frozenset({"code"})
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Please enter your password."))])
    code = StringField(_l("Code from your app or a recovery code"),
                       validators=[DataRequired(_l("Please type the code."))])


class IssueResetForm(FlaskForm):
    """Issue a reset code for one account (a button per account)."""

    username = StringField(validators=[DataRequired()])
