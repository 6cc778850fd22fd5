"""Everything that reads or writes the database, one module per feature.

Services add and flush; they never commit.  The unit of work around each
request or command commits or rolls back (``epro.services.unit_of_work``), and
the audit trail is written by the session itself (``epro.services.audit``).
"""
