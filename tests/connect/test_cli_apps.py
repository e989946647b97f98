import json

import pytest
from django.contrib.auth.hashers import check_password

from laurels import cli
from laurels.connect.models import Application

pytestmark = pytest.mark.django_db


def create(capsys, *extra: str) -> dict:
    code = cli.main(
        [
            "apps",
            "create",
            "--name",
            "Wall",
            "--redirect-uri",
            "https://wall.example.org/cb",
            "--scopes",
            "r:profile r:backpack",
            "--json",
            *extra,
        ]
    )
    assert code == 0
    return json.loads(capsys.readouterr().out)


def test_create_prints_the_secret_once_and_stores_it_hashed(capsys):
    created = create(capsys)
    assert created["client_secret"]
    application = Application.objects.get(client_id=created["client_id"])
    assert application.client_secret != created["client_secret"]
    assert check_password(created["client_secret"], application.client_secret)  # a hash
    assert cli.main(["apps", "show", created["client_id"]]) == 0
    shown = capsys.readouterr().out
    assert created["client_id"] in shown
    assert created["client_secret"] not in shown


def test_public_app_has_no_secret(capsys):
    created = create(capsys, "--public")
    assert created["client_secret"] is None
    assert created["client_type"] == "public"


def test_list(capsys):
    created = create(capsys)
    assert cli.main(["apps", "list"]) == 0
    assert created["client_id"] in capsys.readouterr().out


def test_rotate_secret(capsys):
    created = create(capsys)
    assert cli.main(["apps", "rotate-secret", created["client_id"]]) == 0
    new_secret = capsys.readouterr().out.split()[1]
    assert new_secret != created["client_secret"]
    stored = Application.objects.get(client_id=created["client_id"]).client_secret
    assert check_password(new_secret, stored)
    assert not check_password(created["client_secret"], stored)


def test_disable_and_enable(capsys):
    created = create(capsys)
    assert cli.main(["apps", "disable", created["client_id"]]) == 0
    assert not Application.objects.get(client_id=created["client_id"]).enabled
    assert cli.main(["apps", "enable", created["client_id"]]) == 0
    assert Application.objects.get(client_id=created["client_id"]).enabled


def test_unknown_app(capsys):
    assert cli.main(["apps", "show", "nope"]) == 2
    assert "No app with client id nope" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--redirect-uri", "http://localhost:3000/cb"], "only for apps marked as in testing"),
        (["--redirect-uri", "http://wall.example.org/cb"], "use https"),
        (
            ["--redirect-uri", "https://w.example.org/cb", "--scopes", "r:everything"],
            "Unknown scope: r:everything",
        ),
        (["--public"], "A public app needs a redirect URI"),
    ],
)
def test_invalid_registrations_are_refused(capsys, args, message):
    assert cli.main(["apps", "create", "--name", "Bad", *args]) == 2
    assert message in capsys.readouterr().err
    assert not Application.objects.exists()


def test_testing_apps_may_use_localhost(capsys):
    assert (
        cli.main(
            [
                "apps",
                "create",
                "--name",
                "Dev",
                "--testing",
                "--redirect-uri",
                "http://localhost:3000/cb",
                "--json",
            ]
        )
        == 0
    )
