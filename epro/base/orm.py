"""The ORM's objects: the typed declarative base, Flask-SQLAlchemy's ``db`` and ``Model``.

Apart from the other extension objects so that a rule can say "views do not reach
the database session" by naming one module (``import-linter``, pyproject.toml):
services and models import this, views never do.
"""
from typing import TYPE_CHECKING

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    # mypy cannot take a class from an instance attribute as a base (python/mypy#8603),
    # so it checks the models against the typed Base they are built from.
    Model = Base
else:
    #: At run time Flask-SQLAlchemy's db.Model: Base's body and metadata, plus table naming and binds.
    Model = db.Model
