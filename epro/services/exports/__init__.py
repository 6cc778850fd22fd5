"""Export writers and the loader that feeds them (CONTRACT.md, "Exports").

Every writer reshapes one :class:`epro.core.exports.records.StudyExport`; none reads the database.
"""
