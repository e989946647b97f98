"""`laurels import-badgr`: a Badgr server's data moves over, and a second run adds nothing.

The Badgr side is built from tests/badgr/badgr_schema.sql (the tables and columns of
Badgr's last release the import reads) in a fresh PostgreSQL database, and the same rows as
a `manage.py dumpdata` export; each is imported through the command line, then checked as
its users and earners would see it: log-in with the old password (or a reset mail), the
awards in the earners' backpacks, the hosted assertion under the old server's URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client

from laurels import cli
from laurels.accounts import services as accounts
from laurels.accounts.models import User
from laurels.accounts.services import PASSWORD_RESET_SENT
from laurels.backpack.models import Collection
from laurels.backpack.selectors import local_awards
from laurels.badgr.models import ImportedRecord
from laurels.connect.models import Application, AuditEvent
from laurels.issuing import services as issuing
from laurels.issuing.models import Assertion, BadgeClass, Issuer, IssuerStaff
from tests.factories import AssertionFactory, UserFactory, png_bytes
from tests.mailbox import delivered

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = Path(__file__).with_name("badgr_schema.sql")
ORIGIN = "https://badgr.example.org"
POSTGRES_ADMIN_URL = os.environ.get(
    "LAURELS_BADGR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
OLD_PASSWORD = "the password Ada chose on Badgr"
SALT = "5f1d0c3a9b8e4f7a8c6d2e1b0a9f8e7d"
T0 = "2021-03-04T05:06:07+00:00"

ISSUER_ID = "IssuerOnBadgrAAAAAAAAA"
BADGE_ID = "BadgeOnBadgrBBBBBBBBBB"
AWARD_ID = "AwardToAdaCCCCCCCCCCCC"
REVOKED_ID = "AwardToBobDDDDDDDDDDDD"
TAKEN_ID = "TakenHereEEEEEEEEEEEEE"
SHARE_HASH = "0123456789abcdef0123456789abcdef"


def _pbkdf2(password: str) -> str:
    """A hash as Django's PBKDF2 hasher made it on Badgr (the fewest iterations kept,
    `IMPORTED_HASH_COSTS`: a fast test)."""
    return PBKDF2PasswordHasher().encode(password, "badgrsalt1234", iterations=10_000)


def badgr_rows() -> dict[str, list[dict]]:
    """A small Badgr server: three users, two issuers, two badge classes, awards (one
    hostile each way), a shared collection and an OAuth app."""
    user = {"last_login": None, "is_superuser": False, "is_staff": False, "date_joined": T0}
    audit = {"created_at": T0, "updated_at": T0}
    award = {
        **audit,
        "badgeclass_id": 20,
        "issuer_id": 10,
        "user_id": None,
        "recipient_type": "email",
        "image": "",
        "revoked": False,
        "revocation_reason": None,
        "expires_at": None,
        "acceptance": "Unaccepted",
        "hashed": True,
        "salt": SALT,
        "narrative": None,
        "issued_on": T0,
        "source": "local",
        "source_url": None,
        "created_by_id": 1,
    }
    return {
        "users": [
            {
                **user,
                "id": 1,
                "username": "ada",
                "password": _pbkdf2(OLD_PASSWORD),
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.org",
                "is_active": True,
                "entity_id": "UserAdaOnBadgrUUUUUUUU",
            },
            {
                **user,
                "id": 2,
                "username": "bob",
                "is_active": True,
                "email": "bob@example.org",
                "password": "bcrypt_sha256$$2b$12$Zq0ZLyz3mh4dDq0N0rLxTeJbM3o2B8n3rI4J8mUQm4",
                "first_name": "Bob",
                "last_name": "",
                "entity_id": "UserBobOnBadgrUUUUUUUU",
            },
            {
                **user,
                "id": 3,
                "username": "carol",
                "password": _pbkdf2("x"),
                "first_name": "C",
                "last_name": "",
                "email": "carol@example.org",
                "is_active": True,
                "entity_id": "UserCarolOnBadgrUUUUUU",
            },
            {
                **user,
                "id": 4,
                "username": "dan",
                "password": "",
                "first_name": "Dan",
                "last_name": "",
                "email": "dan@example.org",
                "is_active": True,
                "entity_id": None,
            },
            {
                **user,
                "id": 5,
                "username": "eve",
                "password": "",
                "first_name": "Eve",
                "last_name": "",
                "email": "eve",
                "is_active": True,
                "entity_id": None,
            },
        ],
        "account_emailaddress": [
            {"id": 1, "email": "ada@example.org", "verified": True, "primary": True, "user_id": 1},
            {
                "id": 2,
                "email": "ada@work.example.org",
                "verified": True,
                "primary": False,
                "user_id": 1,
            },
            {
                "id": 3,
                "email": "ada@unproven.example.org",
                "verified": False,
                "primary": False,
                "user_id": 1,
            },
            {"id": 4, "email": "bob@example.org", "verified": True, "primary": True, "user_id": 2},
            {
                "id": 5,
                "email": "carol@example.org",
                "verified": False,
                "primary": True,
                "user_id": 3,
            },
            {"id": 6, "email": "dan@example.org", "verified": True, "primary": True, "user_id": 4},
            {"id": 7, "email": "eve@@example", "verified": True, "primary": True, "user_id": 5},
        ],
        "issuer_issuer": [
            {
                **audit,
                "id": 10,
                "entity_id": ISSUER_ID,
                "name": "Old Academy",
                "image": "uploads/issuers/academy.png",
                "description": "Since 1901.",
                "url": "https://academy.example.org",
                "email": "badges@academy.example.org",
                "source": "local",
                "created_by_id": 1,
            },
            {
                **audit,
                "id": 11,
                "entity_id": "OverlongIssuerFFFFFFFF",
                "name": "N" * 1000,
                "image": None,
                "description": None,
                "url": "https://x.example.org",
                "email": "x@example.org",
                "source": "local",
                "created_by_id": 1,
            },
        ],
        "issuer_issuerstaff": [
            {"id": 1, "role": "owner", "issuer_id": 10, "user_id": 1},
            {"id": 2, "role": "editor", "issuer_id": 10, "user_id": 2},
        ],
        "issuer_issuerextension": [],
        "issuer_badgeclass": [
            {
                **audit,
                "id": 20,
                "entity_id": BADGE_ID,
                "name": "Analytical Engines",
                "image": "uploads/badges/engine.png",
                "description": "Runs the engine.",
                "criteria_url": None,
                "criteria_text": "Write a program.",
                "expires_amount": None,
                "expires_duration": None,
                "source": "local",
                "issuer_id": 10,
                "created_by_id": 1,
            },
            {
                **audit,
                "id": 21,
                "entity_id": "NoImageBadgeGGGGGGGGGG",
                "name": "Lost",
                "image": "../../../../etc/hostname",
                "description": "",
                "criteria_url": None,
                "criteria_text": None,
                "expires_amount": None,
                "expires_duration": None,
                "source": "local",
                "issuer_id": 10,
                "created_by_id": 1,
            },
        ],
        "issuer_badgeclasstag": [{"id": 1, "name": "computing", "badgeclass_id": 20}],
        "issuer_badgeclassalignment": [
            {
                "id": 1,
                "target_name": "Programming",
                "target_url": "https://skills.example.org/p",
                "target_description": None,
                "target_framework": None,
                "target_code": "P1",
                "original_json": None,
                "badgeclass_id": 20,
            },
        ],
        "issuer_badgeclassextension": [],
        "issuer_badgeinstance": [
            {
                **award,
                "id": 30,
                "entity_id": AWARD_ID,
                "recipient_identifier": "Ada@Example.org",
                "narrative": "Wrote the first program.",
                "expires_at": "2099-01-01T00:00:00+00:00",
                "acceptance": "Accepted",
            },
            {
                **award,
                "id": 31,
                "entity_id": REVOKED_ID,
                "recipient_identifier": "bob@example.org",
                "revoked": True,
                "revocation_reason": "Issued in error",
            },
            {
                **award,
                "id": 32,
                "entity_id": "LostBadgeAwardHHHHHHHH",
                "badgeclass_id": 21,
                "recipient_identifier": "ada@example.org",
            },
            {
                **award,
                "id": 33,
                "entity_id": "TooOldAwardIIIIIIIIIII",
                "issued_on": "1850-01-01T00:00:00+00:00",
                "recipient_identifier": "ada@example.org",
            },
            {**award, "id": 34, "entity_id": TAKEN_ID, "recipient_identifier": "ada@example.org"},
            {
                **award,
                "id": 35,
                "entity_id": "BadAddressJJJJJJJJJJJJ",
                "recipient_identifier": "not an address",
            },
        ],
        "issuer_badgeinstanceevidence": [
            {
                "id": 1,
                "evidence_url": "https://evidence.example.org/ada",
                "narrative": "Notes",
                "original_json": None,
                "badgeinstance_id": 30,
            },
        ],
        "issuer_badgeinstanceextension": [],
        "backpack_backpackcollection": [
            {
                **audit,
                "id": 40,
                "entity_id": "AdasCollectionKKKKKKKK",
                "name": "Engines",
                "description": "My engine badges",
                "share_hash": SHARE_HASH,
                "created_by_id": 1,
            },
        ],
        "backpack_backpackcollectionbadgeinstance": [
            {"id": 1, "collection_id": 40, "badgeuser_id": 1, "badgeinstance_id": 30},
        ],
        "oauth2_provider_application": [
            {
                "id": 50,
                "client_id": "moodle-on-badgr",
                "redirect_uris": "https://moodle.example.org/cb",
                "client_type": "confidential",
                "authorization_grant_type": "authorization-code",
                "client_secret": "pbkdf2_sha256$old",
                "name": "Moodle",
                "user_id": 1,
                "skip_authorization": False,
                "created": T0,
                "updated": T0,
            },
        ],
        "mainsite_applicationinfo": [
            {
                "id": 1,
                "application_id": 50,
                "icon": None,
                "name": None,
                "website_url": None,
                "allowed_scopes": "r:profile rw:backpack",
                "trust_email_verification": False,
            },
        ],
    }


# dumpdata names models, and foreign keys without `_id`.
MODELS = {
    "users": "badgeuser.badgeuser",
    "account_emailaddress": "account.emailaddress",
    "issuer_issuer": "issuer.issuer",
    "issuer_issuerstaff": "issuer.issuerstaff",
    "issuer_issuerextension": "issuer.issuerextension",
    "issuer_badgeclass": "issuer.badgeclass",
    "issuer_badgeclasstag": "issuer.badgeclasstag",
    "issuer_badgeclassalignment": "issuer.badgeclassalignment",
    "issuer_badgeclassextension": "issuer.badgeclassextension",
    "issuer_badgeinstance": "issuer.badgeinstance",
    "issuer_badgeinstanceevidence": "issuer.badgeinstanceevidence",
    "issuer_badgeinstanceextension": "issuer.badgeinstanceextension",
    "backpack_backpackcollection": "backpack.backpackcollection",
    "backpack_backpackcollectionbadgeinstance": "backpack.backpackcollectionbadgeinstance",
    "oauth2_provider_application": "oauth2_provider.application",
    "mainsite_applicationinfo": "mainsite.applicationinfo",
}


def write_dumpdata(path: Path, tables: dict[str, list[dict]]) -> None:
    objects = []
    for table, rows in tables.items():
        for row in rows:
            fields = {
                (
                    name[:-3]
                    if name.endswith("_id") and name != "entity_id" and name != "client_id"
                    else name
                ): value
                for name, value in row.items()
                if name != "id"
            }
            objects.append({"model": MODELS[table], "pk": row["id"], "fields": fields})
    path.write_text(json.dumps(objects))


def _postgres():
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.Error as error:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")


def fill_postgres(url: str, tables: dict[str, list[dict]]) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url) as connection:
        connection.execute(SCHEMA.read_text())
        for table, rows in tables.items():
            for row in rows:
                query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(map(sql.Identifier, row)),
                    sql.SQL(", ").join(sql.Placeholder() * len(row)),
                )
                connection.execute(query, list(row.values()))


@pytest.fixture
def postgres_source():
    """A fresh `laurels_badgr_src_<random>` database, dropped after the test."""
    admin = _postgres()
    name = f"laurels_badgr_src_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def badgr_media(root: Path) -> Path:
    """A copy of Badgr's MEDIA_ROOT: the issuer's and one badge class's images."""
    for name in ("uploads/issuers/academy.png", "uploads/badges/engine.png"):
        (root / "media" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "media" / name).write_bytes(png_bytes())
    return root / "media"


@pytest.fixture
def media(tmp_path) -> Path:
    return badgr_media(tmp_path)


@pytest.fixture(autouse=True)
def _django_hashers(settings):
    """Laurels' own hashers (the test settings keep only MD5, for speed): Badgr's PBKDF2
    hashes are verifiable with them."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture(params=["dumpdata", "postgres"])
def source_args(request, tmp_path, media) -> tuple[list[str], dict]:
    """The command-line arguments naming the Badgr source, and its rows (to change)."""
    rows = badgr_rows()
    AssertionFactory(entity_id=TAKEN_ID)  # an award here already has this id
    UserFactory(email="dan@example.org")  # Badgr's Dan has an account here already
    if request.param == "dumpdata":
        path = tmp_path / "badgr.json"
        write_dumpdata(path, rows)
        return ["--dumpdata", str(path)], {"rewrite": lambda tables: write_dumpdata(path, tables)}
    url = request.getfixturevalue("postgres_source")
    fill_postgres(url, rows)
    return ["--database-url", url], {"url": url}


def run_import(args: list[str], media: Path, capsys, *extra: str) -> str:
    code = cli.main(["import-badgr", *args, "--media", str(media), "--origin", ORIGIN, *extra])
    output = capsys.readouterr().out
    assert code == 0, output
    return output


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "issuers": Issuer.objects.count(),
        "badge classes": BadgeClass.objects.count(),
        "awards": Assertion.objects.count(),
        "collections": Collection.objects.count(),
        "apps": Application.objects.filter(client_id="moodle-on-badgr").count(),
        "records": ImportedRecord.objects.count(),
    }


def test_a_badgr_server_moves_over_and_a_second_run_imports_nothing_twice(
    source_args, media, capsys
):
    args, _ = source_args
    output = run_import(args, media, capsys)

    assert "user: 2 imported, 0 updated, 0 unchanged, 3 refused" in output
    assert "every verified address belongs to another account here" in output
    assert "email: Enter a valid email address." in output
    assert "issuer: 1 imported, 0 updated, 0 unchanged, 1 refused" in output
    assert "badge class: 1 imported, 0 updated, 0 unchanged, 1 refused" in output
    assert "award: 2 imported, 0 updated, 0 unchanged, 4 refused" in output
    assert "collection: 1 imported" in output
    assert "OAuth app: 1 imported" in output
    # Every refusal says which row and why.
    assert "no verified email address" in output
    assert "name is 1000 characters long" in output
    assert "image ../../../../etc/hostname not found" in output  # nothing outside --media
    assert f"entity id {TAKEN_ID} is already used here" in output
    assert "1850-01-01" in output
    assert "not an address is not a valid email identity" in output
    assert "client_id=moodle-on-badgr  client_secret=" in output

    _ada_logs_in_with_her_old_password()
    _bob_gets_a_reset_mail()
    _staff_and_awards_are_where_they_were()
    _the_hosted_assertion_keeps_its_badgr_id()

    before = counts()
    again = run_import(args, media, capsys)
    assert counts() == before
    assert "award: 0 imported, 0 updated, 2 unchanged, 4 refused" in again
    assert "user: 0 imported, 0 updated, 2 unchanged" in again
    assert "client_secret=" not in again


def _ada_logs_in_with_her_old_password() -> None:
    ada = User.objects.get(email="ada@example.org")
    assert ada.entity_id == "UserAdaOnBadgrUUUUUUUU"
    assert sorted(ada.email_addresses.filter(verified=True).values_list("email", flat=True)) == [
        "ada@example.org",
        "ada@work.example.org",
    ]
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "ada@work.example.org", "password": OLD_PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()


def _bob_gets_a_reset_mail() -> None:
    response = Client().post(
        "/accounts/login/", {"username": "bob@example.org", "password": "anything"}
    )
    assert response.status_code == 400
    assert PASSWORD_RESET_SENT.split(":")[0] in response.content.decode()
    mails = [m for m in delivered() if m.to == ["bob@example.org"]]
    assert len(mails) == 1
    link = re.search(r"http://\S+/accounts/password/reset/\S+/", mails[0].body).group(0)
    client = Client()
    form = client.get(link, follow=True)
    new_password = "Bob's new password on Laurels"
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    response = Client().post(
        "/accounts/login/", {"username": "bob@example.org", "password": new_password}
    )
    assert response.status_code == 302


def _staff_and_awards_are_where_they_were() -> None:
    issuer = Issuer.objects.get(entity_id=ISSUER_ID)
    roles = dict(IssuerStaff.objects.filter(issuer=issuer).values_list("user__email", "role"))
    assert roles == {"ada@example.org": "owner", "bob@example.org": "editor"}
    assert issuer.image and issuer.hosted_origin == ORIGIN
    badge = BadgeClass.objects.get(entity_id=BADGE_ID)
    assert badge.tags == ["computing"]
    assert badge.alignments == [
        {
            "targetName": "Programming",
            "targetUrl": "https://skills.example.org/p",
            "targetCode": "P1",
        }
    ]
    ada = User.objects.get(email="ada@example.org")
    assert [a.entity_id for a in local_awards(user=ada)] == [AWARD_ID]
    bob = User.objects.get(email="bob@example.org")
    revoked = local_awards(user=bob, include_revoked=True).get()
    assert (revoked.entity_id, revoked.revoked, revoked.revocation_reason) == (
        REVOKED_ID,
        True,
        "Issued in error",
    )
    collection = Collection.objects.get(entity_id="AdasCollectionKKKKKKKK")
    assert (collection.user, collection.share_hash, collection.published) == (ada, SHARE_HASH, True)
    assert [e.assertion.entity_id for e in collection.entries.all()] == [AWARD_ID]


def _the_hosted_assertion_keeps_its_badgr_id() -> None:
    response = Client().get(f"/public/assertions/{AWARD_ID}", HTTP_ACCEPT="application/ld+json")
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["id"] == f"{ORIGIN}/public/assertions/{AWARD_ID}"
    assert document["badge"] == f"{ORIGIN}/public/badges/{BADGE_ID}"
    # What Badgr published for its stored "Ada@Example.org" (`get_hashed_identity`: the
    # identifier lowercased, then Badgr's salt), so verifiers holding it still match.
    identity = "sha256$" + hashlib.sha256(f"ada@example.org{SALT}".encode()).hexdigest()
    assert document["recipient"] == {
        "type": "email",
        "hashed": True,
        "salt": SALT,
        "identity": identity,
    }
    assert document["evidence"] == [
        {"id": "https://evidence.example.org/ada", "narrative": "Notes"}
    ]
    assert document["issuedOn"].startswith("2021-03-04T05:06:07")


def test_a_revocation_on_badgr_after_the_first_run_is_brought_over(source_args, media, capsys):
    args, handle = source_args
    run_import(args, media, capsys)
    rows = badgr_rows()
    rows["issuer_badgeinstance"][0].update(revoked=True, revocation_reason="Plagiarism")
    if "url" in handle:
        import psycopg

        with psycopg.connect(handle["url"]) as connection:
            connection.execute(
                "UPDATE issuer_badgeinstance SET revoked = true, revocation_reason = 'Plagiarism' "
                "WHERE id = 30"
            )
    else:
        handle["rewrite"](rows)

    output = run_import(args, media, capsys)

    assert "award: 0 imported, 1 updated, 1 unchanged, 4 refused" in output
    award = Assertion.objects.get(entity_id=AWARD_ID)
    assert (award.revoked, award.revocation_reason) == (True, "Plagiarism")
    # Revoked as the API revokes (`assertion_revoke`): in the audit trail, and the hosted
    # assertion answers 410 Gone from now on.
    revocations = AuditEvent.objects.filter(kind=AuditEvent.Kind.AWARD_REVOKED)
    assert revocations.filter(detail__assertion=AWARD_ID, detail__reason="Plagiarism").exists()
    assert _hosted_status(AWARD_ID) == 410


def _hosted_status(entity_id: str) -> int:
    """What a verifier gets for the hosted assertion (410 Gone once revoked)."""
    url = f"/public/assertions/{entity_id}"
    return Client().get(url, HTTP_ACCEPT="application/ld+json").status_code


def test_a_dry_run_writes_nothing(tmp_path, media, capsys):
    path = tmp_path / "badgr.json"
    write_dumpdata(path, badgr_rows())

    output = run_import(["--dumpdata", str(path)], media, capsys, "--dry-run")

    assert "Dry run: nothing was written." in output
    assert "award: 3 imported, 0 updated, 0 unchanged, 3 refused" in output
    assert "client_secret=" not in output
    assert not ImportedRecord.objects.exists() and not Issuer.objects.exists()


def test_a_source_that_cannot_be_read_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{not json")
    code = cli.main(
        ["import-badgr", "--dumpdata", str(tmp_path / "broken.json"), "--origin", ORIGIN]
    )
    assert code == 2
    assert "Cannot read the dumpdata file" in capsys.readouterr().err


def test_without_an_image_folder_a_badge_class_is_refused_with_the_way_to_bring_it(
    tmp_path, capsys
):
    path = tmp_path / "badgr.json"
    write_dumpdata(path, badgr_rows())
    code = cli.main(["import-badgr", "--dumpdata", str(path), "--origin", ORIGIN])
    output = capsys.readouterr().out
    assert code == 0
    assert "badge class: 0 imported, 0 updated, 0 unchanged, 2 refused" in output
    assert "give Badgr's MEDIA_ROOT with --media, or --fetch-images" in output
    assert "its badge class (badge class 20) was not imported" in output


def test_images_are_fetched_from_the_old_server_only_when_asked_and_only_once(
    tmp_path, serve, settings, capsys
):
    """--fetch-images: each image missing from --media comes from Badgr's public image
    URL; one the old server no longer has is reported with its badge class; a second run
    fetches nothing (unchanged rows are not written, so their images are not asked for)."""
    png = (200, {"Content-Type": "image/png"}, png_bytes(), 0)
    old_server = serve(
        routes={
            f"/public/badges/{BADGE_ID}/image": png,
            f"/public/issuers/{ISSUER_ID}/image": png,
        }
    )
    settings.LAURELS_ALLOW_PRIVATE_FETCH = "true"  # the stub listens on loopback
    settings.LAURELS_BADGR_ORIGIN = old_server.url
    path = tmp_path / "badgr.json"
    write_dumpdata(path, badgr_rows())
    args = ["import-badgr", "--dumpdata", str(path), "--origin", old_server.url]

    assert cli.main([*args]) == 0
    without = capsys.readouterr().out
    assert "badge class: 0 imported, 0 updated, 0 unchanged, 2 refused" in without
    assert old_server.connections == 0

    assert cli.main([*args, "--fetch-images"]) == 0
    output = capsys.readouterr().out
    assert "badge class: 1 imported, 0 updated, 0 unchanged, 1 refused" in output
    assert "image ../../../../etc/hostname not found" in output
    assert BadgeClass.objects.get(entity_id=BADGE_ID).image.read() == png_bytes()
    assert Issuer.objects.get(entity_id=ISSUER_ID).image
    fetched = old_server.connections

    assert cli.main([*args, "--fetch-images"]) == 0
    assert "badge class: 0 imported, 0 updated, 1 unchanged, 1 refused" in capsys.readouterr().out
    assert old_server.connections == fetched + 1  # only the one still missing, asked again


@pytest.mark.parametrize(
    "origin", ["https://badgr.example.org/api", "https://elsewhere.example.org"]
)
def test_an_origin_other_than_the_configured_one_is_refused_before_anything_is_read(
    tmp_path, capsys, origin
):
    """Awards get ids on the origin: only LAURELS_BADGR_ORIGIN's host is served here."""
    path = tmp_path / "badgr.json"
    write_dumpdata(path, badgr_rows())
    code = cli.main(["import-badgr", "--dumpdata", str(path), "--origin", origin])
    assert code == 2
    assert f"--origin {origin} is not LAURELS_BADGR_ORIGIN ({ORIGIN})" in capsys.readouterr().err
    assert not ImportedRecord.objects.exists()


def test_without_the_origin_setting_the_import_does_not_run(tmp_path, capsys, settings):
    settings.LAURELS_BADGR_ORIGIN = None
    path = tmp_path / "badgr.json"
    write_dumpdata(path, badgr_rows())
    code = cli.main(["import-badgr", "--dumpdata", str(path), "--origin", ORIGIN])
    assert code == 2
    assert "set LAURELS_BADGR_ORIGIN" in capsys.readouterr().err
    assert not ImportedRecord.objects.exists()


def test_the_origin_setting_alone_is_enough(tmp_path, media, capsys):
    path = tmp_path / "badgr.json"
    write_dumpdata(path, badgr_rows())
    assert cli.main(["import-badgr", "--dumpdata", str(path), "--media", str(media)]) == 0
    assert Assertion.objects.get(entity_id=AWARD_ID).hosted_origin == ORIGIN


# --- what the import does not trust: the old server's stored fields ---------------------------


def _import_dumpdata(tmp_path, media, capsys, rows: dict[str, list[dict]]) -> str:
    path = tmp_path / "badgr.json"
    write_dumpdata(path, rows)
    return run_import(["--dumpdata", str(path)], media, capsys)


def _hostile_evidence(rows: dict) -> None:
    rows["issuer_badgeinstanceevidence"][0]["evidence_url"] = "javascript:alert(document.cookie)"


def _hostile_alignment(rows: dict) -> None:
    rows["issuer_badgeclassalignment"][0]["target_url"] = "javascript:alert(1)"


def _hostile_extension(rows: dict) -> None:
    rows["issuer_badgeclassextension"].append(
        {"id": 1, "name": "extensions:Broken", "original_json": "[1, 2]", "badgeclass_id": 20}
    )


@pytest.mark.parametrize(
    ("spoil", "refusal", "model", "entity_id"),
    [
        (
            _hostile_evidence,
            f"award 30 ({AWARD_ID}): evidence: javascript:alert(document.cookie) is not a valid",
            Assertion,
            AWARD_ID,
        ),
        (
            _hostile_alignment,
            "alignment Programming: target URL 'javascript:alert(1)' is not a web address",
            BadgeClass,
            BADGE_ID,
        ),
        (
            _hostile_extension,
            "extension extensions:Broken is not a JSON object",
            BadgeClass,
            BADGE_ID,
        ),
    ],
)
def test_stored_fields_are_checked_as_the_api_checks_them(
    tmp_path, media, capsys, spoil, refusal, model, entity_id
):
    """Badgr's database could hold what its API never let in (an admin, an old bug, a
    hand edit): a `javascript:` evidence or alignment URL that pages would link, an
    extension that is not an object. Such a row is refused with its reason."""
    rows = badgr_rows()
    spoil(rows)

    output = _import_dumpdata(tmp_path, media, capsys, rows)

    assert refusal in output, output
    assert not model.objects.filter(entity_id=entity_id).exists()


# --- a second run never undoes what was changed here ------------------------------------------


def test_a_second_run_keeps_a_deactivation_and_a_removal_made_here(tmp_path, media, capsys):
    rows = badgr_rows()
    _import_dumpdata(tmp_path, media, capsys, rows)
    ada = User.objects.get(email="ada@example.org")
    accounts.user_access_set(user=ada, is_active=False)  # an admin here deactivates her
    accounts.email_address_delete(
        email_address=ada.email_addresses.get(email="ada@work.example.org")
    )
    accounts.user_profile_update(user=ada, last_name="King")  # she changed her name here

    # Meanwhile on Badgr: Ada logged in (her row changed) and added an address.
    rows["users"][0]["last_login"] = "2022-01-01T00:00:00+00:00"
    rows["account_emailaddress"].append(
        {"id": 8, "email": "ada@new.example.org", "verified": True, "primary": False, "user_id": 1}
    )
    output = _import_dumpdata(tmp_path, media, capsys, rows)

    assert "user: 0 imported, 1 updated, 2 unchanged" in output
    assert "belongs to another account here" not in output  # her own are hers
    ada.refresh_from_db()
    assert not ada.is_active
    assert ada.last_name == "King"
    assert sorted(ada.email_addresses.values_list("email", flat=True)) == [
        "ada@example.org",
        "ada@new.example.org",
    ]


def test_a_change_on_badgr_itself_is_brought_over(tmp_path, media, capsys):
    rows = badgr_rows()
    _import_dumpdata(tmp_path, media, capsys, rows)
    rows["users"][0].update(is_active=False, last_name="Byron")

    _import_dumpdata(tmp_path, media, capsys, rows)

    ada = User.objects.get(email="ada@example.org")
    assert (ada.is_active, ada.last_name) == (False, "Byron")


def test_a_second_run_never_undoes_a_revocation_made_here(tmp_path, media, capsys):
    """An award revoked here stays revoked, with the reason given here, whatever Badgr
    (where it is still valid) says of it on a later run: a verifier must never be told a
    revoked badge is valid again."""
    rows = badgr_rows()
    _import_dumpdata(tmp_path, media, capsys, rows)
    issuing.assertion_revoke(
        assertion=Assertion.objects.get(entity_id=AWARD_ID), reason="Revoked here"
    )
    rows["issuer_badgeinstance"][0]["narrative"] = "Edited on Badgr meanwhile."

    output = _import_dumpdata(tmp_path, media, capsys, rows)

    assert "award: 0 imported, 1 updated, 2 unchanged" in output
    award = Assertion.objects.get(entity_id=AWARD_ID)
    assert (award.narrative, award.revoked, award.revocation_reason) == (
        "Edited on Badgr meanwhile.",
        True,
        "Revoked here",
    )
    assert _hosted_status(AWARD_ID) == 410


# --- what was deleted here since the last run ------------------------------------------------


def _add(rows: dict[str, list[dict]], table: str, row_id: int, entity_id: str, **changes) -> None:
    """A new row on Badgr: a copy of the first of `table` (a local one, made by Ada)."""
    rows[table].append({**rows[table][0], "id": row_id, "entity_id": entity_id, **changes})


def test_a_run_after_a_user_was_deleted_here_goes_on_without_them(tmp_path, media, capsys):
    """Ada, imported, is deleted here; meanwhile on Badgr she made an award and a
    collection, and the issuer she owned changed. The run brings over what it can: the
    award (made by no one here), the issuer (without her); her collection is refused."""
    rows = badgr_rows()
    _import_dumpdata(tmp_path, media, capsys, rows)
    # She hands the issuer over first: its last owner's account cannot be deleted.
    IssuerStaff.objects.filter(user__email="bob@example.org").update(role="owner")
    accounts.user_delete(user=User.objects.get(email="ada@example.org"))
    rows["issuer_issuer"][0]["description"] = "Since 1901, and still going."
    _add(rows, "issuer_badgeinstance", 36, "NewAwardByAdaLLLLLLLLL", recipient_identifier="b@b.io")
    _add(rows, "backpack_backpackcollection", 41, "NewCollectionMMMMMMMMM", share_hash="")

    output = _import_dumpdata(tmp_path, media, capsys, rows)

    assert "issuer: 0 imported, 1 updated" in output
    assert "award: 1 imported" in output
    assert "collection 41 (NewCollectionMMMMMMMMM): its owner (user 1) was deleted here" in output
    assert Assertion.objects.get(entity_id="NewAwardByAdaLLLLLLLLL").created_by is None
    issuer = Issuer.objects.get(entity_id=ISSUER_ID)
    assert issuer.description == "Since 1901, and still going."
    assert list(issuer.staff.values_list("user__email", flat=True)) == ["bob@example.org"]


def test_a_run_after_a_badge_class_was_deleted_here_refuses_its_new_awards(tmp_path, media, capsys):
    rows = badgr_rows()
    _import_dumpdata(tmp_path, media, capsys, rows)
    badge_class = BadgeClass.objects.get(entity_id=BADGE_ID)
    for award in badge_class.assertions.filter(revoked=False):
        issuing.assertion_revoke(assertion=award, reason="Gone")
    issuing.badge_class_delete(badge_class=badge_class)
    _add(rows, "issuer_badgeinstance", 36, "NewAwardNNNNNNNNNNNNNN")

    output = _import_dumpdata(tmp_path, media, capsys, rows)

    assert (
        "award 36 (NewAwardNNNNNNNNNNNNNN): its badge class (badge class 20) was deleted" in output
    )
    assert not Assertion.objects.filter(entity_id="NewAwardNNNNNNNNNNNNNN").exists()


# --- what a first run could not complete, a later one completes ------------------------------


def test_a_staff_member_not_imported_yet_is_added_when_their_account_arrives(
    tmp_path, media, capsys
):
    """Carol is on the issuer's staff but has no verified address on Badgr: her account is
    refused, and the issuer comes over without her. Once she verifies it there, the next
    run brings her account and her place on the staff."""
    rows = badgr_rows()
    rows["issuer_issuerstaff"].append({"id": 3, "role": "staff", "issuer_id": 10, "user_id": 3})
    output = _import_dumpdata(tmp_path, media, capsys, rows)
    assert "staff member (user 3, role 'staff') not brought over" in output
    rows["account_emailaddress"][4]["verified"] = True  # Carol's, on Badgr

    output = _import_dumpdata(tmp_path, media, capsys, rows)

    assert "user: 1 imported" in output
    staff = IssuerStaff.objects.filter(issuer__entity_id=ISSUER_ID)
    assert dict(staff.values_list("user__email", "role"))["carol@example.org"] == "staff"
    # Complete now: the run after that leaves the issuer alone.
    output = _import_dumpdata(tmp_path, media, capsys, rows)
    assert "issuer: 0 imported, 0 updated, 1 unchanged" in output


def test_an_address_another_account_held_is_moved_once_it_is_freed(tmp_path, media, capsys):
    """Ada's work address is held verified by another account here: she comes over
    without it. Once that account is gone, the next run gives it to her, though nothing
    changed on Badgr."""
    holder = UserFactory(email="ada@work.example.org")
    rows = badgr_rows()
    output = _import_dumpdata(tmp_path, media, capsys, rows)
    assert "ada@work.example.org belongs to another account here; not moved" in output
    accounts.user_delete(user=holder)

    _import_dumpdata(tmp_path, media, capsys, rows)

    ada = User.objects.get(email="ada@example.org")
    assert sorted(ada.email_addresses.filter(verified=True).values_list("email", flat=True)) == [
        "ada@example.org",
        "ada@work.example.org",
    ]


def test_a_collection_badge_refused_at_first_joins_the_collection_once_imported(
    tmp_path, media, capsys
):
    rows = badgr_rows()
    _hostile_evidence(rows)  # Ada's award is refused: her collection comes without it
    output = _import_dumpdata(tmp_path, media, capsys, rows)
    assert "award 30 not imported, deleted here, or not in its owner's backpack" in output
    rows["issuer_badgeinstanceevidence"][0]["evidence_url"] = "https://evidence.example.org/ada"

    _import_dumpdata(tmp_path, media, capsys, rows)

    collection = Collection.objects.get(entity_id="AdasCollectionKKKKKKKK")
    assert [e.assertion.entity_id for e in collection.entries.all()] == [AWARD_ID]


# --- what Badgr held of other servers ---------------------------------------------------------

ELSEWHERE = "https://elsewhere.example.com"


def test_badgr_s_copies_of_outside_issuers_and_badges_are_not_moved(tmp_path, media, capsys):
    """An earner who added an outside badge to their Badgr backpack left Badgr a copy of
    its issuer, badge class and award (`source_url` naming the original, `source` often
    still "local"). None becomes an issuer here: anyone on its staff could award in the
    outside issuer's name."""
    rows = badgr_rows()
    _add(rows, "issuer_issuer", 12, "OutsideIssuerOOOOOOOOO", source_url=f"{ELSEWHERE}/issuers/1")
    _add(
        rows,
        "issuer_badgeclass",
        22,
        "OutsideBadgePPPPPPPPPP",
        source_url=f"{ELSEWHERE}/badges/1",
        issuer_id=12,
    )
    _add(
        rows,
        "issuer_badgeinstance",
        36,
        "OutsideAwardQQQQQQQQQQ",
        source_url=f"{ELSEWHERE}/assertions/1",
        badgeclass_id=22,
    )
    # Badgr's own objects may name themselves: still local.
    rows["issuer_issuer"][0]["source_url"] = f"{ORIGIN}/public/issuers/{ISSUER_ID}"

    output = _import_dumpdata(tmp_path, media, capsys, rows)

    for label, url in [
        ("issuer 12 (OutsideIssuerOOOOOOOOO)", f"{ELSEWHERE}/issuers/1"),
        ("badge class 22 (OutsideBadgePPPPPPPPPP)", f"{ELSEWHERE}/badges/1"),
        ("award 36 (OutsideAwardQQQQQQQQQQ)", f"{ELSEWHERE}/assertions/1"),
    ]:
        assert f"{label}: Badgr's copy of {url}" in output, output
    assert "issuer: 1 imported, 0 updated, 0 unchanged, 2 refused" in output
    assert not Issuer.objects.filter(entity_id="OutsideIssuerOOOOOOOOO").exists()
    assert not BadgeClass.objects.filter(entity_id="OutsideBadgePPPPPPPPPP").exists()
