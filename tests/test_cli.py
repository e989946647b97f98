import subprocess
import sys

import pytest

from laurels import cli
from laurels.accounts.models import User
from tests.servers import LAURELS, server_env

STRONG = "a sturdy passphrase"


@pytest.mark.django_db
class TestCreateUser:
    def test_creates_a_verified_user(self, capsys):
        code = cli.main(
            [
                "createuser",
                "Kim@Example.org",
                "--password",
                STRONG,
                "--first-name",
                "Kim",
                "--last-name",
                "Park",
            ]
        )
        assert code == 0
        user = User.objects.get(email="kim@example.org")
        assert (user.first_name, user.last_name) == ("Kim", "Park")
        assert user.email_addresses.get().verified
        assert not user.is_staff
        assert "Created user kim@example.org" in capsys.readouterr().out

    def test_admin_flag(self):
        assert cli.main(["createuser", "root@example.org", "--password", STRONG, "--admin"]) == 0
        user = User.objects.get(email="root@example.org")
        assert user.is_staff and user.is_superuser

    def test_duplicate_address_fails_clearly(self, capsys):
        cli.main(["createuser", "kim@example.org", "--password", STRONG])
        assert cli.main(["createuser", "KIM@example.org", "--password", STRONG]) == 2
        assert "already exists" in capsys.readouterr().err
        assert User.objects.count() == 1

    def test_weak_password_fails_with_the_reason(self, capsys):
        assert cli.main(["createuser", "kim@example.org", "--password", "1234"]) == 2
        assert "password: This password is too short" in capsys.readouterr().err
        assert not User.objects.exists()

    def test_invalid_address(self, capsys):
        assert cli.main(["createuser", "kim", "--password", STRONG]) == 2
        assert "email: Enter a valid email address." in capsys.readouterr().err

    def test_without_password_and_without_a_terminal(self, capsys, monkeypatch):
        monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
        assert cli.main(["createuser", "kim@example.org"]) == 2
        assert "--password" in capsys.readouterr().err


@pytest.mark.django_db
def test_check_prints_the_configuration_and_database_state(capsys):
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    for label in ("LAURELS_HOME", "LAURELS_BASE_URL", "database", "cache", "email", "DEBUG"):
        assert label in out
    assert "database reachable  yes" in out
    assert "System check identified no issues" in out


def run_cli(*args: str, home, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LAURELS), *args],
        env=server_env(home, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_reports_an_unreachable_database(tmp_path):
    result = run_cli("check", home=tmp_path, DATABASE_URL="postgres://nobody@127.0.0.1:1/none")
    assert result.returncode == 1
    assert "database reachable  no" in result.stdout
    assert "postgresql none at 127.0.0.1:1" in result.stdout


def test_check_never_prints_the_database_password(tmp_path):
    result = run_cli(
        "check", home=tmp_path, DATABASE_URL="postgres://u:hunter2secret@127.0.0.1:1/none"
    )
    assert "hunter2secret" not in result.stdout + result.stderr


def test_a_bad_setting_stops_start_up_with_its_name(tmp_path):
    result = run_cli("check", home=tmp_path, LAURELS_BASE_URL="badges.example.org")
    assert result.returncode == 2
    assert "LAURELS_BASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands():
    result = subprocess.run([str(LAURELS), "--help"], capture_output=True, text=True, check=True)
    for command in ("serve", "createuser", "check", "manage"):
        assert command in result.stdout


def test_serve_rejects_zero_workers(tmp_path):
    result = run_cli("serve", "--workers", "0", home=tmp_path)
    assert result.returncode == 2
    assert "must be at least 1" in result.stderr


@pytest.mark.django_db
def test_an_id_beginning_with_a_dash_goes_after_double_dash(capsys):
    """Ids from early builds may begin with `-`; `--` keeps argparse from reading an option."""
    from tests.factories import IssuerFactory

    issuer = IssuerFactory(entity_id="-9J3QnxvP4_9__edKq9u4Q")
    assert cli.main(["signing", "enable", "--", issuer.entity_id]) == 0
    assert "signs its assertions with key" in capsys.readouterr().out
    issuer.refresh_from_db()
    assert issuer.signing_keys.exists()
