"""factory_boy factories; they add to the app's session, and tests commit when they need to."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from cloudcodes.auth.models import Role, User
from cloudcodes.auth.passwords import hash_password
from cloudcodes.extensions import db

DEFAULT_PASSWORD = "correct horse battery staple"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - resolved per app context
        sqlalchemy_session_persistence = "commit"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@partner.example")
    full_name = factory.Faker("name")
    role = Role.PARTNER.value
    password_hash = factory.LazyFunction(lambda: hash_password(DEFAULT_PASSWORD))


class StaffFactory(UserFactory):
    email = factory.Sequence(lambda n: f"staff{n}@cloudcodes.example")
    role = Role.MANAGER.value
