"""What starts and wires the rest: the application factory, the ``epro`` CLI,
the demo data and backups."""
