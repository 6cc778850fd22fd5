"""The administration pages' forms (sites, studies' sites, staff accounts); the services check the rules."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks SelectChoice

from epro.core.i18n_marker import N_
from epro.models import Site
from epro.services import sites, staff
from epro.web.fields import Form, SelectChoiceField, TextField, service_check

#: How each role an administrator gives is called on the pages.
ROLE_LABELS = {"clinician": N_("Clinician"), "investigator": N_("Investigator (unblinded)"),
               "data-manager": N_("Data manager"), "monitor": N_("Monitor"),
               "statistician": N_("Statistician (unblinded)"), "admin": N_("Administrator")}


class SiteNamesForm(Form):
    name_en = TextField(max_len=120)
    name_zh = TextField(max_len=120)
    timezone = TextField(max_len=64, default="Asia/Shanghai")

    def validate_timezone(self, field: TextField) -> None:
        service_check(sites.zone_problems(field.data))


class NewSiteForm(SiteNamesForm):
    code = TextField(max_len=16, upper=True)

    def validate_code(self, field: TextField) -> None:
        service_check(sites.code_problems(field.data))


class AddStudySiteForm(Form):
    site = SelectChoiceField(choices=[])

    def __init__(self, *args: Any, sites: Sequence[Site], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.site.choices = [SelectChoice(s.code, s.code) for s in sites]


class InviteForm(Form):
    username = TextField(max_len=40)
    display_name_en = TextField(max_len=120)
    display_name_zh = TextField(max_len=120)
    role = SelectChoiceField(choices=[SelectChoice(r, _l(ROLE_LABELS[r])) for r in staff.ROLES])
    site = SelectChoiceField(required=False, choices=[])

    def __init__(self, *args: Any, sites: Sequence[Site], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.site.choices = [SelectChoice(s.code, s.code) for s in sites]


class DeactivateForm(Form):
    reason = TextField(max_len=500, message=_l("Please give a reason for this change."))


class ButtonForm(Form):
    """A button that changes state (reactivate, a new code): the CSRF token only."""
