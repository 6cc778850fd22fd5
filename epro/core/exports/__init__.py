"""What leaves epro for analysis: the study's data as plain records, and the codes it carries.

The services load a study into :class:`records.StudyExport` (masking already
applied); each format (CSV, SDTM, ODM, FHIR) is written from those records only,
so every file of one export says the same thing.
"""
