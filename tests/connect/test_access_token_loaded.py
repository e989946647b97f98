"""`selectors.access_token_loaded`: the toolkit's read of a Bearer token in one raw
query, which must make the same objects as the ORM's (`core.sql.models_of_row`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import AccessToken, set_token_value

from laurels.connect.selectors import access_token_loaded
from tests.connect.oauth_helpers import register_app, token_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def fields_of(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_the_same_token_application_and_user_as_the_orm_reads():
    user = UserFactory()
    app = register_app()
    raw = token_for(user, app, "r:profile")
    loaded = access_token_loaded(raw)
    by_orm = AccessToken.objects.select_related("application", "user").get(pk=loaded.pk)
    assert fields_of(loaded) == fields_of(by_orm)
    with CaptureQueriesContext(connection) as queries:
        assert fields_of(loaded.application) == fields_of(by_orm.application)
        assert fields_of(loaded.user) == fields_of(by_orm.user)
    assert len(queries) == 0  # loaded with the token
    assert loaded.expires.tzinfo is not None and loaded.user.date_joined.tzinfo is not None


def test_a_token_without_a_user_and_an_unknown_token():
    app = register_app(scopes="r:profile")
    token = AccessToken(
        application=app.application, scope="r:profile", expires=timezone.now() + timedelta(hours=1)
    )
    set_token_value(token, "a-token-of-the-app-alone")
    token.save()
    loaded = access_token_loaded("a-token-of-the-app-alone")
    assert loaded.pk == token.pk and loaded.user is None
    assert loaded.application.pk == app.application.pk
    assert access_token_loaded("no such token") is None
