"""Trial conduct rules that sit on top of a protocol (:mod:`epro.core.protocols`).

Screening and eligibility, concealed randomization lists, infusion dosing and
windows, safety (adverse events, the SAE clock, safety rates) and outcome
summaries.  Each is a small pure module so the rules can be read, tested and
audited on their own, and reused by the web app, the API and exports.

This package imports nothing on purpose: import the module you need
(``from epro.core.trial import eligibility``).  Standard library only; no Flask,
no SQLAlchemy.
"""
