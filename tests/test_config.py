import os
import stat

import pytest
from django.core.exceptions import ImproperlyConfigured

from laurels import config
from laurels.settings import database_from_url


@pytest.fixture
def env(monkeypatch):
    def set_env(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("ON", True), ("0", False), ("no", False)]
)
def test_env_bool(env, raw, expected):
    env(FLAG=raw)
    assert config.env_bool("FLAG") is expected


def test_env_bool_refuses_nonsense(env):
    env(FLAG="maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        config.env_bool("FLAG")


def test_env_int_minimum_and_nonsense(env):
    env(N="3", BAD="three")
    assert config.env_int("N", 1) == 3
    with pytest.raises(ImproperlyConfigured, match="minimum"):
        config.env_int("N", 1, minimum=5)
    with pytest.raises(ImproperlyConfigured, match="BAD"):
        config.env_int("BAD", 1)


def test_env_list(env):
    env(HOSTS=" a.example , ,b.example")
    assert config.env_list("HOSTS") == ["a.example", "b.example"]
    assert config.env_list("UNSET_LIST", ["x"]) == ["x"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://badges.example.org/", "https://badges.example.org"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://example.org/badges/", "https://example.org/badges"),
    ],
)
def test_base_url(env, raw, expected):
    env(LAURELS_BASE_URL=raw)
    assert config.base_url_from_env() == expected


@pytest.mark.parametrize("raw", ["badges.example.org", "ftp://example.org", "https://x.org/?a=1"])
def test_base_url_refuses_what_cannot_be_a_public_url(env, raw):
    env(LAURELS_BASE_URL=raw)
    with pytest.raises(ImproperlyConfigured, match="LAURELS_BASE_URL"):
        config.base_url_from_env()


def test_secret_key_is_made_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = config.secret_key_from_env_or_file(tmp_path)
    assert len(first) >= 50
    assert config.secret_key_from_env_or_file(tmp_path) == first
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no temp files left


def test_secret_key_from_the_environment_wins(tmp_path, env):
    env(SECRET_KEY="from-env")
    assert config.secret_key_from_env_or_file(tmp_path) == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_data_dir_is_created(tmp_path, env):
    env(LAURELS_HOME=str(tmp_path / "a" / "b"))
    assert config.data_dir_from_env() == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()


def test_data_dir_is_private(tmp_path, env):
    env(LAURELS_HOME=str(tmp_path / "home"))
    home = config.data_dir_from_env()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    with (home / "new-file").open("w"):  # the process umask keeps new files private too
        pass
    assert stat.S_IMODE((home / "new-file").stat().st_mode) == 0o600


def test_a_data_dir_left_open_is_closed_with_everything_in_it(tmp_path, env):
    home = tmp_path / "home"
    (home / "media" / "badges").mkdir(parents=True)
    (home / "media" / "badges" / "a.png").write_bytes(b"png")
    (home / "laurels.sqlite3").write_bytes(b"")
    for path in [home, *home.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    env(LAURELS_HOME=str(home))
    config.data_dir_from_env()
    modes = {
        str(path.relative_to(home)): stat.S_IMODE(path.stat().st_mode)
        for path in [home, *home.rglob("*")]
    }
    assert modes == {
        ".": 0o700,
        "media": 0o700,
        "media/badges": 0o700,
        "media/badges/a.png": 0o600,
        "laurels.sqlite3": 0o600,
    }


def test_a_data_dir_that_cannot_be_made_is_a_configuration_error(tmp_path, env):
    (tmp_path / "a-file").write_text("not a directory")
    env(LAURELS_HOME=str(tmp_path / "a-file" / "home"))
    with pytest.raises(ImproperlyConfigured, match=r"LAURELS_HOME=.*Not a directory"):
        config.data_dir_from_env()


def test_postgres_url():
    database = database_from_url("postgres://laurels:pw@db.internal:5433/badges")
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["HOST"], database["PORT"]) == ("badges", "db.internal", 5433)
    assert "init_command" not in database.get("OPTIONS", {})


def test_embedded_sqlite_runs_in_wal_mode_with_a_busy_timeout():
    database = database_from_url("")
    assert database["ENGINE"] == "laurels.core.sqlite_backend"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert database["OPTIONS"]["timeout"] >= 1


@pytest.mark.django_db
def test_the_suite_runs_on_the_database_it_was_given():
    from django.db import connection

    url = os.environ.get("TEST_DATABASE_URL", "")
    assert connection.vendor == ("postgresql" if url.startswith("postgres") else "sqlite")
