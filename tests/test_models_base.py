"""The models' base: mypy sees the typed Base, the app runs on Flask-SQLAlchemy's db.Model."""
import pytest

import epro.models as models
from epro.base.orm import Base, Model, db

pytestmark = pytest.mark.sqlite_only


def test_run_time_model_is_flask_sqlalchemys():
    assert Model is db.Model


def test_every_model_is_a_db_model_in_the_one_metadata():
    classes = [getattr(models, name) for name in models.__all__ if isinstance(getattr(models, name), type)]
    assert len(classes) >= 15
    for cls in classes:
        assert issubclass(cls, db.Model), cls
        assert cls.__table__.metadata is db.metadata, cls
    # The naming convention of the typed Base (portable migrations) is the one in use.
    assert db.metadata.naming_convention == Base.metadata.naming_convention
