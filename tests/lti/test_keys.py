"""The platform's keys: published at /lti/jwks, rotated with the previous one kept."""

import pytest
from cryptography.fernet import Fernet

from laurels import cli
from laurels.core import secrets
from laurels.lti import services
from laurels.lti.models import PlatformKey


@pytest.mark.django_db
class TestJwks:
    def test_publishes_a_public_rsa_key_made_on_first_need(self, client):
        response = client.get("/lti/jwks")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert "max-age" in response["Cache-Control"]
        (key,) = response.json()["keys"]
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
        assert key["kid"] == PlatformKey.objects.get().kid
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)

    def test_private_key_is_stored_encrypted(self):
        key = services.platform_signing_key()
        assert "PRIVATE KEY" not in key.private_key
        assert "PRIVATE KEY" in secrets.decrypt(key.private_key)

    def test_rotation_keeps_the_previous_key_published(self, client):
        first = services.platform_signing_key()
        second = services.platform_key_rotate()
        assert services.platform_signing_key() == second
        kids = [key["kid"] for key in client.get("/lti/jwks").json()["keys"]]
        assert kids == [second.kid, first.kid]
        third = services.platform_key_rotate()
        kids = [key["kid"] for key in client.get("/lti/jwks").json()["keys"]]
        assert kids == [third.kid, second.kid]

    def test_only_get(self, client):
        assert client.post("/lti/jwks").status_code == 405


@pytest.mark.django_db
class TestCommands:
    def test_rotate_key(self, capsys):
        first = services.platform_signing_key()
        assert cli.main(["lti", "rotate-key"]) == 0
        newest = PlatformKey.objects.order_by("-id").first()
        assert newest != first and newest.kid in capsys.readouterr().out
        first.refresh_from_db()
        assert first.retired_at is not None

    def test_keys_reencrypt_covers_lti_secrets(self, settings, capsys):
        from tests.lti.helpers import register_tool

        registration = register_tool()
        secret = services.lti11_set(registration=registration, enabled=True, actor=None)
        key = services.platform_signing_key()
        old = list(settings.LAURELS_ENCRYPTION_KEYS)
        new = Fernet.generate_key().decode()
        settings.LAURELS_ENCRYPTION_KEYS = [new, *old]
        assert cli.main(["keys", "reencrypt"]) == 0
        assert "2 LTI key(s) and secret(s)" in capsys.readouterr().out
        settings.LAURELS_ENCRYPTION_KEYS = [new]
        registration.refresh_from_db()
        key.refresh_from_db()
        assert secrets.decrypt(registration.lti11_secret) == secret
        assert "PRIVATE KEY" in secrets.decrypt(key.private_key)
