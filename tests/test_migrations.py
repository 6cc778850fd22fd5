"""The schema comes only from migrations, and they match the models."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from epro import create_app
from epro.extensions import db


def test_head_matches_models_and_round_trips(tmp_path, db_backend):
    from conftest import _config, _pg_database

    if db_backend == "postgresql":
        uri = _pg_database(f"epro_mig_{tmp_path.name[-8:].lower()}")
    else:
        uri = "sqlite:///" + str(tmp_path / "mig.db")
    app = create_app(_config(uri))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []
        downgrade(revision="base")
        with db.engine.connect() as conn:
            assert db.inspect(conn).get_table_names() in ([], ["alembic_version"])
        upgrade()
        db.session.remove()
        db.engine.dispose()
