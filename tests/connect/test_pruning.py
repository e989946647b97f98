"""The daily `oauth-prune` job: every token, family and spent code that nothing can use any
more goes, and nothing that can still be used or still guards a grant."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from laurels.connect import services
from laurels.connect.models import RefreshTokenFamily, SpentAuthorizationCode
from laurels.connect.oauth import checksum
from laurels.jobs.periodic import JOBS, run_due_jobs
from tests.connect.oauth_helpers import (
    bearer,
    exchange,
    obtain_code,
    register_app,
    token_request,
)
from tests.factories import UserFactory

# The jobs runner closes connections after each job (close_old_connections), which on
# PostgreSQL ends a test wrapped in one transaction: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
DAY = timedelta(days=1)


def prune() -> None:
    job = next((job for job in JOBS if job.name == "oauth-prune"), None)
    assert job is not None, "no periodic job prunes OAuth records"
    assert job.every_seconds == 24 * 3600
    assert run_due_jobs(now=0.0, jobs=[job]) == ["oauth-prune"]


def connect(user, app) -> tuple[dict, str]:
    """The consent flow for `user`; the tokens, and the code they came from."""
    browser = Client()
    browser.force_login(user)
    code = obtain_code(browser, app)
    response = exchange(Client(), app, code)
    assert response.status_code == 200, response.content
    return response.json(), code


def refresh(app, refresh_token: str) -> dict:
    response = token_request(Client(), app, grant_type="refresh_token", refresh_token=refresh_token)
    assert response.status_code == 200, response.content
    return response.json()


def family_of(refresh_token: str):
    return RefreshToken.objects.get(token_checksum=checksum(refresh_token)).token_family


def age(family, **moments: timedelta) -> None:
    """Move the rows of `family` back in time: revoked/created by `moments` ago."""
    now = timezone.now()
    rows = RefreshToken.objects.filter(token_family=family)
    for field, ago in moments.items():
        rows.exclude(**{f"{field}__isnull": True}).update(**{field: now - ago})


def kept(family) -> bool:
    return RefreshTokenFamily.objects.filter(token_family=family).exists()


def test_what_nothing_can_use_goes_and_what_guards_a_grant_stays():
    app = register_app()
    access_lifetime = timedelta(seconds=oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
    idle = timedelta(seconds=settings.LAURELS_REFRESH_TOKEN_IDLE_SECONDS)

    # Live, refreshed a while ago: its spent ancestors still detect a replay.
    busy_user = UserFactory(email="busy@example.org")
    busy, busy_code = connect(busy_user, app)
    busy_now = refresh(app, busy["refresh_token"])
    busy_family = family_of(busy_now["refresh_token"])
    RefreshToken.objects.filter(token_family=busy_family, revoked__isnull=False).update(
        revoked=timezone.now() - idle / 2
    )

    # Disconnected long ago, and just now.
    gone_user = UserFactory(email="gone@example.org")
    gone, _ = connect(gone_user, app)
    gone_family = family_of(gone["refresh_token"])
    services.app_access_revoke(user=gone_user, application=app.application)
    age(gone_family, revoked=access_lifetime + DAY)
    SpentAuthorizationCode.objects.filter(token_family=gone_family).update(
        spent_at=timezone.now() - access_lifetime - DAY
    )
    recent_user = UserFactory(email="recent@example.org")
    recent, _ = connect(recent_user, app)
    recent_family = family_of(recent["refresh_token"])
    services.app_access_revoke(user=recent_user, application=app.application)

    # Unused for longer than the idle lifetime (and its access token long expired).
    idle_user = UserFactory(email="idle@example.org")
    idle_tokens, _ = connect(idle_user, app)
    idle_family = family_of(idle_tokens["refresh_token"])
    age(idle_family, created=idle + 2 * DAY)
    AccessToken.objects.filter(user=idle_user).update(expires=timezone.now() - idle - DAY)
    SpentAuthorizationCode.objects.filter(token_family=idle_family).update(
        spent_at=timezone.now() - idle - 2 * DAY
    )

    prune()

    assert kept(busy_family) and kept(recent_family)
    assert not kept(gone_family) and not kept(idle_family)
    assert not RefreshToken.objects.filter(token_family__in=[gone_family, idle_family]).exists()
    assert RefreshToken.objects.filter(token_family=recent_family).exists()
    assert not SpentAuthorizationCode.objects.filter(
        token_family__in=[gone_family, idle_family]
    ).exists()
    assert not AccessToken.objects.filter(user=idle_user).exists()

    # What stayed still works: the busy grant refreshes, and a replay of its code, kept
    # while the grant lives, still ends it.
    busy_next = refresh(app, busy_now["refresh_token"])
    assert exchange(Client(), app, busy_code).status_code == 400
    assert (
        Client().get("/v2/users/self", headers=bearer(busy_next["access_token"])).status_code == 401
    )


def test_a_spent_code_outlives_the_tokens_it_could_revoke():
    """A code whose tokens are still live stays however old it is; one whose family has
    no token left goes once past the access-token lifetime."""
    app = register_app()
    access_lifetime = timedelta(seconds=oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
    old = timezone.now() - access_lifetime - DAY
    user = UserFactory(email="codes@example.org")
    live, live_code = connect(user, app)
    SpentAuthorizationCode.objects.update(spent_at=old)
    orphan = SpentAuthorizationCode.objects.create(
        code_checksum="0" * 64, application=app.application, token_family=None
    )
    SpentAuthorizationCode.objects.filter(pk=orphan.pk).update(spent_at=old)
    fresh_orphan = SpentAuthorizationCode.objects.create(
        code_checksum="1" * 64, application=app.application, token_family=None
    )

    prune()

    remaining = set(SpentAuthorizationCode.objects.values_list("code_checksum", flat=True))
    assert remaining == {checksum(live_code), fresh_orphan.code_checksum}
    assert exchange(Client(), app, live_code).status_code == 400
    assert Client().get("/v2/users/self", headers=bearer(live["access_token"])).status_code == 401
