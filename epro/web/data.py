"""The Data page: data managers and statisticians export a study and download it as one zip.

Whoever exports (``roles.exports``: data managers, statisticians) sees the page;
everyone else gets 404 (:mod:`epro.web.guards`).  An unblinded export is
offered only to an account that sees arms, and refused by the service to anyone
else whatever the form says.  The files are written to a temporary directory,
zipped in memory and the directory removed before the answer leaves, so no
export stays on the server's disk; the export log and the audit trail keep what
was exported, by whom and when.
"""
from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, render_template
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectChoice  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks SelectChoice

from epro.base import i18n
from epro.core import endpoints
from epro.core.i18n_marker import N_
from epro.models import Study
from epro.services import exports
from epro.web import guards, prg
from epro.web.fields import Form, RadioChoiceField, SelectChoiceField

bp = Blueprint("data", __name__, url_prefix="/data")
guards.protect(bp, "exports")

#: How each format is called on the page.
FORMAT_LABELS = {
    "csv": N_("CSV files with a Frictionless data package"),
    "sdtm": N_("CDISC SDTM datasets (SAS transport and Dataset-JSON)"),
    "odm": N_("CDISC ODM 1.3.2 (XML, with the audit trail)"),
    "fhir": N_("HL7 FHIR R4 bundle (JSON)"),
}
BLINDING = ("masked", "unblinded")


class ExportForm(Form):
    study = SelectChoiceField(choices=[])
    format = SelectChoiceField(choices=[SelectChoice(f, _l(FORMAT_LABELS[f])) for f in exports.FORMATS],
                               default="csv")
    #: Both values are accepted here; the service refuses "unblinded" to masked eyes (a clear message).
    blinding = RadioChoiceField(choices=[SelectChoice("masked", _l("Masked export")),
                                         SelectChoice("unblinded", _l("Unblinded export"))], default="masked")

    def __init__(self, *args: Any, studies: list[Study], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.study.choices = [SelectChoice(s.code, s.code) for s in studies]


def _zip(study: str, fmt: str, unblinded: bool) -> Response:
    """Run the export into a temporary directory and answer with its files as one zip."""
    stamp = datetime.now(UTC)
    name = f"{study}-{fmt}-{'unblinded' if unblinded else 'masked'}-{stamp:%Y%m%dT%H%M%SZ}"
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="epro-export-") as tmp:
        result = exports.run(study, fmt, Path(tmp), actor=current_user._get_current_object(), unblinded=unblinded,
                             now=stamp)
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in result.files:
                archive.write(path, f"{name}/{path.name}")
    return Response(buffer.getvalue(), mimetype="application/zip", headers={
        "Content-Disposition": f"attachment; filename={name}.zip", "Cache-Control": "no-store"})


@bp.route("/", methods=["GET", "POST"])
def page():
    studies = exports.studies()
    form = ExportForm(studies=studies)
    answer = form.submit(lambda: _zip(form.study.data, form.format.data, form.blinding.data == "unblinded"))
    if answer is not None:
        return answer
    return prg.answer(form, lambda: render_template(
        "data/page.html", form=form, history=exports.history(), rules=endpoints.rules(gettext),
        may_unblind=exports.may_unblind(current_user),
        study_choices=[(s.code, f"{s.code} · {s.name_in(_lang())}") for s in studies],
        format_choices=[(f, FORMAT_LABELS[f]) for f in exports.FORMATS],
    ))


def _lang() -> str:
    return i18n.lang_code(str(get_locale() or i18n.DEFAULT))
