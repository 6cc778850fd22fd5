"""The front door: a home page that depends on who you are (``/healthz`` is epro.app.health)."""
from __future__ import annotations

from flask import Blueprint, jsonify, redirect, url_for
from flask_login import current_user, login_required

bp = Blueprint("main", __name__)


@bp.get("/session/keepalive")
@login_required
def keepalive():
    """Touching the session is all it takes (see hooks.sign_out_idle_staff)."""
    return jsonify(status="ok")


@bp.get("/")
@login_required
def home():
    if current_user.can.answers_patient_reported:
        return redirect(url_for("patient.home"))
    if current_user.is_staff:
        return redirect(url_for("clinic.patients"))
    if current_user.can.exports:  # exports only (statisticians)
        return redirect(url_for("data.page"))
    return redirect(url_for("clinic.admin_home"))
