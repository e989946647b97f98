"""Registering a connected app as an LTI tool: what a registration must hold."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from jwcrypto import jwk

from laurels.connect.models import AuditEvent
from laurels.jobs.registry import JOBS
from laurels.lti import services
from laurels.lti.models import LtiLaunch, ToolRegistration
from tests.connect.oauth_helpers import register_app
from tests.lti.helpers import JWKS_URL, LAUNCH_URL, LOGIN_URL, register_tool


def save(app, **changes):
    fields = {
        "login_url": LOGIN_URL,
        "launch_url": LAUNCH_URL,
        "jwks_url": JWKS_URL,
        "locations": ["badgeclass"],
        **changes,
    }
    return services.registration_save(application=app.application, actor=None, **fields)


@pytest.mark.django_db
class TestRegistration:
    def test_ids_are_issued_and_kept_on_change(self):
        app = register_app()
        registration = save(app)
        assert registration.client_id.startswith("lti-")
        assert registration.client_id != app.client_id
        changed = save(app, locations=["backpack", "profile"], title="Print")
        assert (changed.pk, changed.client_id, changed.deployment_id) == (
            registration.pk,
            registration.client_id,
            registration.deployment_id,
        )
        assert changed.button_title == "Print"
        assert AuditEvent.objects.filter(detail__lti="changed").exists()

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"login_url": "http://tool.example.org/login"}, "login_url"),
            ({"launch_url": "http://localhost:9000/launch"}, "launch_url"),
            ({"launch_url": "https://tool.example.org/launch#frag"}, "launch_url"),
            ({"jwks_url": "", "public_key": ""}, "jwks_url"),
            ({"jwks_url": "", "public_key": "not a key"}, "public_key"),
            ({"locations": []}, "locations"),
            ({"locations": ["kitchen"]}, "locations"),
            ({"custom": {"bad key": "x"}}, "custom"),
            ({"custom": {"laurels_issuer_id": "x"}}, "custom"),
            ({"custom": {f"k{n}": "v" for n in range(21)}}, "custom"),
            ({"icon_url": "http://cdn.example.org/i.png"}, "icon_url"),
            ({"title": "x" * 61}, "title"),
        ],
    )
    def test_refusals(self, changes, field):
        with pytest.raises(ValidationError) as refused:
            save(register_app(), **changes)
        assert field in refused.value.message_dict
        assert not ToolRegistration.objects.exists()

    def test_loopback_http_while_the_app_is_testing(self):
        app = register_app(testing=True, redirect_uris=["http://localhost:9000/cb"])
        registration = save(app, login_url="http://127.0.0.1:9000/login")
        assert registration.login_url == "http://127.0.0.1:9000/login"

    def test_pasted_public_key(self):
        key = jwk.JWK.generate(kty="RSA", size=2048)
        pem = key.export_to_pem().decode()
        assert save(register_app(), jwks_url="", public_key=pem).public_key == pem.strip()
        as_jwk = json.dumps(key.export_public(as_dict=True))
        assert save(register_app(name="Other"), jwks_url="", public_key=as_jwk).public_key
        with pytest.raises(ValidationError, match="private key"):
            save(register_app(name="Third"), jwks_url="", public_key=key.export_private())

    def test_delete(self):
        registration = register_tool()
        services.registration_delete(application=registration.application, actor=None)
        assert not ToolRegistration.objects.exists()


@pytest.mark.django_db
def test_prune_job_deletes_launches_older_than_a_day(user):
    registration = register_tool()
    now = timezone.now()
    old, fresh = (
        LtiLaunch.objects.create(
            registration=registration, user=user, location="profile", expires_at=now
        )
        for _ in range(2)
    )
    LtiLaunch.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=2))
    job = next(job for job in JOBS if job.name == "lti-launches-prune")
    assert job.run() == {"launches": 1}
    assert list(LtiLaunch.objects.all()) == [fresh]
