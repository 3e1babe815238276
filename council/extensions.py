"""Extension objects, bound to an app in ``create_app`` with ``init_app``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, registry

from council.db_types import UTCDateTime

if TYPE_CHECKING:
    import flask_sqlalchemy.session
    from sqlalchemy.orm import Session, scoped_session

# Named constraints, so migrations can drop and alter them on every engine.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={uuid.UUID: Uuid(), datetime: UTCDateTime()},
    )


if TYPE_CHECKING:
    # SQLAlchemy's generated proxy for scoped_session.scalar lacks one overload that Session.scalar has.
    class RequestSession(scoped_session[flask_sqlalchemy.session.Session], Session):  # type: ignore[misc]
        """``db.session`` as the type checker sees it: Flask-SQLAlchemy's request-scoped proxy, which
        forwards every Session method to the request's session, so it can be passed to a service that
        takes a ``Session``."""


class Database(SQLAlchemy):
    """Flask-SQLAlchemy as it is at run time; only ``session``'s declared type differs."""

    session: RequestSession


db = Database(model_class=Base)

# The models' base class. mypy cannot take a base class from an attribute such as db.Model, so
# models name this one; to the type checker it is Base, which db.Model extends with Flask-SQLAlchemy's
# table naming and query property.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


class SessionOnlyLoginManager(LoginManager):
    """Flask-Login, reading the signed-in person from the session alone. Its remember-me cookie is never
    set here, yet a visitor's request carrying one (signed with the site's secret, which a leaked key would
    let anyone make) would name a person and write them into the session. Council's sessions are sealed
    server-side records: only a password opens one."""

    def _load_user_from_remember_cookie(self, cookie):
        return None


migrate = Migrate()
login_manager = SessionOnlyLoginManager()
babel = Babel()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)

__all__ = ["db", "migrate", "login_manager", "babel", "csrf", "limiter"]
