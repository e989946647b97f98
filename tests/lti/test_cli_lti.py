"""`laurels apps lti` and the LTI part of the command line."""

import pytest

from laurels import cli
from laurels.core import secrets
from laurels.lti.models import ToolRegistration
from tests.connect.oauth_helpers import register_app
from tests.lti.helpers import JWKS_URL, LAUNCH_URL, LOGIN_URL


def lti(*arguments: str) -> int:
    return cli.main(["apps", "lti", *arguments])


@pytest.mark.django_db
class TestAppsLti:
    def test_register_prints_what_the_tool_needs(self, capsys):
        app = register_app()
        code = lti(
            app.client_id,
            "--login-url", LOGIN_URL,
            "--launch-url", LAUNCH_URL,
            "--jwks-url", JWKS_URL,
            "--location", "badgeclass",
            "--location", "backpack",
            "--title", "Print certificate",
            "--custom", "course=101",
        )  # fmt: skip
        assert code == 0
        registration = ToolRegistration.objects.get(application=app.application)
        assert registration.locations == ["badgeclass", "backpack"]
        assert registration.custom == {"course": "101"}
        out = capsys.readouterr().out
        assert registration.client_id in out and registration.deployment_id in out
        assert "/lti/authorize" in out and "/lti/jwks" in out
        assert "lti11_secret" not in out

    def test_change_keeps_what_is_not_given_and_lti11_prints_the_secret_once(self, capsys):
        app = register_app()
        lti(app.client_id, "--login-url", LOGIN_URL, "--launch-url", LAUNCH_URL,
            "--jwks-url", JWKS_URL, "--location", "profile")  # fmt: skip
        capsys.readouterr()
        assert lti(app.client_id, "--title", "New title", "--lti11") == 0
        registration = ToolRegistration.objects.get()
        assert (registration.title, registration.locations) == ("New title", ["profile"])
        out = capsys.readouterr().out
        secret = next(
            line.split()[-1] for line in out.splitlines() if line.startswith("lti11_secret")
        )
        assert secrets.decrypt(registration.lti11_secret) == secret
        assert lti(app.client_id) == 0  # shows it
        assert secret not in capsys.readouterr().out
        assert lti(app.client_id, "--no-lti11") == 0
        assert not ToolRegistration.objects.get().lti11_enabled

    def test_public_key_file(self, tmp_path):
        from jwcrypto import jwk

        path = tmp_path / "tool.pem"
        path.write_bytes(jwk.JWK.generate(kty="RSA", size=2048).export_to_pem())
        app = register_app()
        assert lti(app.client_id, "--login-url", LOGIN_URL, "--launch-url", LAUNCH_URL,
                   "--public-key-file", str(path), "--location", "profile") == 0  # fmt: skip
        assert ToolRegistration.objects.get().public_key.startswith("-----BEGIN PUBLIC KEY")

    def test_refusals_are_clear(self, capsys):
        app = register_app()
        assert lti(app.client_id, "--login-url", "http://tool.example.org/login",
                   "--launch-url", LAUNCH_URL, "--jwks-url", JWKS_URL,
                   "--location", "kitchen", "--custom", "novalue") == 2  # fmt: skip
        assert "error: custom" in capsys.readouterr().err
        assert lti(app.client_id, "--login-url", "http://tool.example.org/login",
                   "--launch-url", LAUNCH_URL, "--jwks-url", JWKS_URL,
                   "--location", "kitchen") == 2  # fmt: skip
        err = capsys.readouterr().err
        assert "login_url" in err and "Unknown launch location: kitchen" in err
        assert lti("no-such-app", "--remove") == 2
        assert lti(app.client_id, "--public-key-file", "/nonexistent/key.pem") == 2
        assert not ToolRegistration.objects.exists()

    def test_remove(self, capsys):
        app = register_app()
        lti(app.client_id, "--login-url", LOGIN_URL, "--launch-url", LAUNCH_URL,
            "--jwks-url", JWKS_URL, "--location", "profile")  # fmt: skip
        assert lti(app.client_id, "--remove") == 0
        assert not ToolRegistration.objects.exists()
