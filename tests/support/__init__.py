"""What every test directory shares: PostgreSQL databases and live `epro` servers.

One place for each, so the browser, reliability and app tests start servers and
make databases the same way (tests/conftest.py turns them into fixtures).
Importable as ``support`` because pytest puts tests/ on sys.path for its conftest.
"""
