"""Fixtures of the Open Badges tests."""

from __future__ import annotations

import pytest
from django.core.signals import request_started
from django.db import close_old_connections

from laurels.openbadges.fastpath import PublicDocumentFastPath


class Django:
    """The application behind the fast path: Django itself, counting who reached it."""

    def __init__(self) -> None:
        from laurels.wsgi import django_application

        self.application, self.reached = django_application, 0

    def __call__(self, environ, start_response):
        self.reached += 1
        # As Django's test client does: a request would close the test's connection,
        # whose transaction holds the test's rows.
        request_started.disconnect(close_old_connections)
        try:
            return self.application(environ, start_response)
        finally:
            request_started.connect(close_old_connections)


@pytest.fixture
def fast_path():
    django = Django()
    return PublicDocumentFastPath(django), django
