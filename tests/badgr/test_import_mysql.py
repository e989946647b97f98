"""The MySQL reader: the same Badgr rows in a MariaDB/MySQL database import as from
PostgreSQL (PyMySQL, the optional extra `badgr-mysql`). Skipped when PyMySQL or the local
server (root, no password, 127.0.0.1:3306) is absent."""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime

import pytest

from laurels.issuing.models import Assertion
from tests.badgr.test_import import (
    ORIGIN,
    SCHEMA,
    TAKEN_ID,
    badgr_media,
    badgr_rows,
    counts,
    run_import,
)
from tests.factories import AssertionFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

MYSQL = os.environ.get("LAURELS_BADGR_TEST_MYSQL", "127.0.0.1:3306")
ISO_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


def mysql_ddl() -> list[str]:
    """badgr_schema.sql in MySQL's words (the column names and types Django's MySQL
    backend gives the same models)."""
    ddl = SCHEMA.read_text()
    ddl = re.sub(r"--[^\n]*", "", ddl)
    for postgres, mysql in (
        ("bigserial PRIMARY KEY", "bigint AUTO_INCREMENT PRIMARY KEY"),
        ("serial PRIMARY KEY", "integer AUTO_INCREMENT PRIMARY KEY"),
        ("timestamp with time zone", "datetime(6)"),
        ('"primary"', "`primary`"),
    ):
        ddl = ddl.replace(postgres, mysql)
    return [statement for statement in ddl.split(";") if statement.strip()]


def _mysql_value(value):
    if isinstance(value, str) and ISO_INSTANT.fullmatch(value):
        return datetime.fromisoformat(value).replace(tzinfo=None)  # MySQL keeps UTC, naive
    return value


@pytest.fixture
def mysql_url():
    pymysql = pytest.importorskip("pymysql", reason="PyMySQL (extra badgr-mysql) is absent")
    host, port = MYSQL.split(":")
    try:
        admin = pymysql.connect(host=host, port=int(port), user="root", connect_timeout=3)
    except pymysql.Error as error:
        pytest.skip(f"MySQL/MariaDB is not reachable at {MYSQL}: {error}")
    name = f"laurels_badgr_src_{secrets.token_hex(6)}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"mysql://root@{host}:{port}/{name}", admin, name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def fill_mysql(admin, name: str) -> None:
    admin.select_db(name)
    with admin.cursor() as cursor:
        for statement in mysql_ddl():
            cursor.execute(statement)
        for table, rows in badgr_rows().items():
            for row in rows:
                columns = ", ".join(f"`{column}`" for column in row)
                marks = ", ".join(["%s"] * len(row))
                cursor.execute(
                    f"INSERT INTO `{table}` ({columns}) VALUES ({marks})",  # noqa: S608
                    [_mysql_value(value) for value in row.values()],
                )
    admin.commit()


def test_a_badgr_mysql_database_imports_like_a_postgresql_one(mysql_url, tmp_path, capsys):
    url, admin, name = mysql_url
    fill_mysql(admin, name)
    AssertionFactory(entity_id=TAKEN_ID)
    UserFactory(email="dan@example.org")
    images = badgr_media(tmp_path)

    output = run_import(["--database-url", url], images, capsys)

    assert "user: 2 imported, 0 updated, 0 unchanged, 3 refused" in output
    assert "award: 2 imported, 0 updated, 0 unchanged, 4 refused" in output
    award = Assertion.objects.get(entity_id="AwardToAdaCCCCCCCCCCCC")
    assert award.hosted_origin == ORIGIN and award.recipient_salt
    before = counts()
    assert "award: 0 imported, 0 updated, 2 unchanged" in run_import(
        ["--database-url", url], images, capsys
    )
    assert counts() == before


def test_without_pymysql_the_command_says_how_to_get_it(monkeypatch, capsys):
    import sys

    from laurels import cli

    monkeypatch.setitem(sys.modules, "pymysql", None)  # as if the extra were not installed
    code = cli.main(
        ["import-badgr", "--database-url", "mysql://root@127.0.0.1/badgr", "--origin", ORIGIN]
    )
    assert code == 2
    assert "pip install 'laurels[badgr-mysql]'" in capsys.readouterr().err
