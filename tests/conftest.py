import pytest
from django.core.cache import cache
from django.test import Client

from laurels.accounts.models import User
from tests.api.contract import answers_checked
from tests.browsers import chromium  # noqa: F401  (one Chromium for the whole session)
from tests.factories import UserFactory
from tests.httpstub import serve  # noqa: F401  (the stub HTTP server fixture)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True, scope="session")
def _api_contract_checked():
    """Every /v2 answer a test gets must be what the OpenAPI document says
    (tests/api/contract.py)."""
    with answers_checked():
        yield


@pytest.fixture
def user(db):
    return UserFactory(email="ada@example.org", first_name="Ada", last_name="Lovelace")


@pytest.fixture
def client_logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(db) -> Client:
    """Logged in as a superuser (pytest-django's own fixture needs a username field)."""
    client = Client()
    client.force_login(User.objects.create_superuser("root@example.org", "an admin passphrase"))
    return client


@pytest.fixture
def csrf_client_logged_in(user) -> Client:
    """A logged-in client that enforces CSRF like a real browser session."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def pytest_collection_modifyitems(items):
    """Mark tests by what they start: a live server (`live`) is `server`, Chromium is
    `browser`. The PostgreSQL pass leaves both out: a live server runs on its own embedded
    database whatever the pass, so the SQLite pass has already run them."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "live" in fixtures:
            item.add_marker(pytest.mark.server)
        if "chromium" in fixtures:
            item.add_marker(pytest.mark.browser)
