"""Running a trial from the database: the bridge between stored rows and the
pure trial core (:mod:`epro.core.protocols`, :mod:`epro.core.trial`).

One module per step of trial conduct: ``studies`` (a study made from a
protocol), ``screening``, ``enrolment`` (the one way a patient is made),
``allocation`` (the concealed list and its use),
``unblinding`` (emergency unblinding; who may see an arm is decided by
:mod:`epro.services.masking` alone), ``infusions``,
``safety`` (symptom reports, adverse events, the SAE clock, safety checks and
the safety summary) and ``outcomes``.

Rules kept by every module here: each write is audited by the session in the
same transaction (:mod:`epro.services.audit`; a module names the operation and its
reason); clinical rows are never deleted (a status says when one was replaced);
services flush, the unit of work's boundary commits.  Messages are English
message ids marked with ``N_`` and translated by the web layer.

Functions take typed values (keyword arguments or a small frozen dataclass),
never a raw form: the shape of a value (a date, a number in range) is the
form's business.  They keep the rules that need the database or the
protocol, and say no with :class:`epro.services.errors.Invalid` (a field is
wrong; ``*_problems`` functions let a form show the same rule with its own
errors) or :class:`epro.services.errors.Refused` (the step is not allowed now;
``ensure_*`` functions let a page ask before it reads the form).
"""
