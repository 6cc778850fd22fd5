"""Export writers: each turns one :class:`epro.core.exports.records.StudyExport` into files."""
