"""The protocol and trial core import neither Flask nor SQLAlchemy (STYLE.md, "Shape")."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import epro.core.protocols, epro.core.trial
from epro.core.trial import eligibility, infusion, outcomes, randomization, safety
for p in epro.core.protocols.all_protocols():
    eligibility.evaluate(p, eligibility.ScreeningFacts(screening_date=__import__("datetime").date(2026, 1, 1)))
heavy = sorted(
    m for m in sys.modules if m.split(".")[0] in {"flask", "sqlalchemy", "flask_babel", "werkzeug", "jinja2"}
)
assert not heavy, heavy
"""


def test_core_imports_no_web_or_database_library() -> None:
    result = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
