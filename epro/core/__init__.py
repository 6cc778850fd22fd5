"""The pure core: clinical rules with no Flask, no database and no I/O.

Instruments and their scoring, protocols as data, the visit schedule, the
follow-up timeline, charts and the trial rules (eligibility, randomization,
infusions, safety, outcome statistics).  Everything here is a function of its
arguments, so it is tested in microseconds; ``import-linter`` (pyproject.toml)
keeps Flask, SQLAlchemy and the upper layers out.
"""
