"""Every issuing endpoint, for every role and scope set, with the exact status each cell must get.

The expectations are data: each endpoint names the least role and the scope sets that
allow it. A cell expects 404 for a non-member of the issuer (ids of private issuers do
not leak), 403 when the role or the scopes fall short, and the endpoint's success status
otherwise. Every cell runs inside a savepoint that is rolled back, so writes in one cell
never change what the next one sees. Adding an endpoint is adding a row.
"""

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value

from laurels.issuing.models import IssuerStaff
from tests.connect.oauth_helpers import register_app
from tests.factories import (
    AssertionFactory,
    BadgeClassFactory,
    IssuerFactory,
    UserFactory,
    png_bytes,
    png_data_uri,
)

pytestmark = pytest.mark.django_db

ROLES = ["owner", "editor", "staff", None]  # None: not a member of the issuer
RANK = {"staff": 1, "editor": 2, "owner": 3}

SCOPE_SETS = {
    "session": None,
    "no issuer scope": "r:profile r:backpack",
    "r:issuer": "r:issuer",
    "rw:issuer": "rw:issuer",
    "rw:issuer:award": "rw:issuer:award",
    "r:issuer:history": "r:issuer:history",
    "rw:issuer:define": "rw:issuer:define",
    "r:badgeclass:X": "r:badgeclass:{x}",
    "rw:badgeclass:X": "rw:badgeclass:{x}",
    "rw:badgeclass:Y": "rw:badgeclass:{y}",
}
READ = {
    "session",
    "r:issuer",
    "rw:issuer",
    "rw:issuer:award",
    "r:issuer:history",
    "rw:issuer:define",
}
WRITE = {"session", "rw:issuer"}
DEFINE = WRITE | {"rw:issuer:define"}
AWARD = WRITE | {"rw:issuer:award"}
BADGE_READ_X = {"r:badgeclass:X", "rw:badgeclass:X"}
BADGE_WRITE_X = {"rw:badgeclass:X"}
ANY_BADGE = {"r:badgeclass:X", "rw:badgeclass:X", "rw:badgeclass:Y"}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    body: object
    least_role: str | None  # None: not about one issuer (lists, creating an issuer)
    allowed: frozenset
    success: int


MULTIPART_PNG = "multipart image upload"


def award(**extra):
    return {"recipient": {"identity": "matrix@example.org"}, **extra}


ENDPOINTS = [
    Endpoint("GET issuer", "get", "/v2/issuers/{issuer}", None, "staff", READ, 200),
    Endpoint(
        "PUT issuer", "put", "/v2/issuers/{issuer}", {"name": "New name"}, "editor", WRITE, 200
    ),
    # Permitted, then refused because the issuer has awards.
    Endpoint("DELETE issuer", "delete", "/v2/issuers/{issuer}", None, "owner", WRITE, 409),
    Endpoint("GET staff", "get", "/v2/issuers/{issuer}/staff", None, "owner", WRITE, 200),
    Endpoint(
        "PUT staff",
        "put",
        "/v2/issuers/{issuer}/staff",
        {"staff": [{"user": "{owner}", "role": "owner"}]},
        "owner",
        WRITE,
        200,
    ),
    Endpoint(
        "POST staff",
        "post",
        "/v2/issuers/{issuer}/staff",
        {"email": "someone-new@example.org", "role": "staff"},
        "owner",
        WRITE,
        202,
    ),
    Endpoint(
        "GET staff invitations",
        "get",
        "/v2/issuers/{issuer}/staff/invitations",
        None,
        "owner",
        WRITE,
        200,
    ),
    Endpoint(
        "PUT issuer staff field",
        "put",
        "/v2/issuers/{issuer}",
        {"staff": [{"user": "{owner}", "role": "owner"}]},
        "owner",
        WRITE,
        200,
    ),
    Endpoint(
        "GET issuer badgeclasses",
        "get",
        "/v2/issuers/{issuer}/badgeclasses",
        None,
        "staff",
        READ | ANY_BADGE,
        200,
    ),
    Endpoint(
        "POST issuer badgeclasses",
        "post",
        "/v2/issuers/{issuer}/badgeclasses",
        {
            "name": "New",
            "description": "D",
            "image": "{png}",
            "criteriaUrl": "https://c.example.org",
        },
        "editor",
        DEFINE,
        201,
    ),
    Endpoint(
        "GET badgeclass", "get", "/v2/badgeclasses/{x}", None, "staff", READ | BADGE_READ_X, 200
    ),
    Endpoint(
        "PUT badgeclass",
        "put",
        "/v2/badgeclasses/{x}",
        {"name": "Renamed"},
        "editor",
        DEFINE | BADGE_WRITE_X,
        200,
    ),
    Endpoint(
        "DELETE badgeclass",
        "delete",
        "/v2/badgeclasses/{x}",
        None,
        "editor",
        DEFINE | BADGE_WRITE_X,
        409,
    ),
    Endpoint(
        "GET badgeclass assertions",
        "get",
        "/v2/badgeclasses/{x}/assertions",
        None,
        "staff",
        READ | BADGE_READ_X,
        200,
    ),
    Endpoint(
        "POST award",
        "post",
        "/v2/badgeclasses/{x}/assertions",
        award(),
        "staff",
        AWARD | BADGE_WRITE_X,
        201,
    ),
    Endpoint(
        "POST batch award",
        "post",
        "/v2/badgeclasses/{x}/issue",
        {"assertions": [award(), award()]},
        "staff",
        AWARD | BADGE_WRITE_X,
        201,
    ),
    Endpoint(
        "GET issuer assertions",
        "get",
        "/v2/issuers/{issuer}/assertions",
        None,
        "staff",
        READ | ANY_BADGE,
        200,
    ),
    Endpoint(
        "POST issuer award",
        "post",
        "/v2/issuers/{issuer}/assertions",
        award(badgeclass="{x}"),
        "staff",
        AWARD | BADGE_WRITE_X,
        201,
    ),
    Endpoint("GET assertion", "get", "/v2/assertions/{a}", None, "staff", READ | BADGE_READ_X, 200),
    Endpoint(
        "PUT assertion",
        "put",
        "/v2/assertions/{a}",
        {"narrative": "Edited"},
        "editor",
        WRITE | BADGE_WRITE_X,
        200,
    ),
    Endpoint(
        "DELETE assertion",
        "delete",
        "/v2/assertions/{a}?revocation_reason=Error",
        None,
        "editor",
        WRITE | BADGE_WRITE_X,
        200,
    ),
    Endpoint(
        "PUT issuer image", "put", "/v2/issuers/{issuer}/image", MULTIPART_PNG, "editor", WRITE, 200
    ),
    Endpoint(
        "PUT badgeclass image",
        "put",
        "/v2/badgeclasses/{x}/image",
        MULTIPART_PNG,
        "editor",
        DEFINE | BADGE_WRITE_X,
        200,
    ),
    Endpoint("GET issuers", "get", "/v2/issuers", None, None, READ, 200),
    Endpoint(
        "POST issuers",
        "post",
        "/v2/issuers",
        {"name": "Mine", "url": "https://m.example.org", "email": "m@example.org"},
        None,
        WRITE,
        201,
    ),
    Endpoint("GET badgeclasses", "get", "/v2/badgeclasses", None, None, READ | ANY_BADGE, 200),
    Endpoint("GET issuers changed", "get", "/v2/issuers/changed", None, None, READ, 200),
    Endpoint("GET badgeclasses changed", "get", "/v2/badgeclasses/changed", None, None, READ, 200),
    Endpoint("GET assertions changed", "get", "/v2/assertions/changed", None, None, READ, 200),
]


def expected_status(endpoint: Endpoint, role: str | None, scope_set: str) -> int:
    if endpoint.least_role is not None:
        if role is None:
            return 404
        if RANK[role] < RANK[endpoint.least_role]:
            return 403
    if scope_set not in endpoint.allowed:
        return 403
    return endpoint.success


@pytest.fixture
def world():
    """One issuer with an owner, an editor and a staff member, an outsider, badge classes X
    (with an award) and Y, and for each person a session and a token per scope set."""
    people = {role: UserFactory(email=f"{role or 'outsider'}@example.org") for role in ROLES}
    issuer = IssuerFactory()
    for role, user in people.items():
        if role:
            IssuerStaff.objects.create(issuer=issuer, user=user, role=role)
    x = BadgeClassFactory(issuer=issuer, name="X")
    y = BadgeClassFactory(issuer=issuer, name="Y")
    assertion = AssertionFactory(badge_class=x)
    names = {
        "issuer": issuer.entity_id,
        "x": x.entity_id,
        "y": y.entity_id,
        "a": assertion.entity_id,
        "owner": people["owner"].entity_id,
        "png": png_data_uri(),
    }
    application = register_app(name="Matrix app").application
    clients = {}
    for role, user in people.items():
        for scope_set, scopes in SCOPE_SETS.items():
            if scopes is None:
                client = Client()
                client.force_login(user)
            else:
                raw = secrets.token_urlsafe(30)
                token = get_access_token_model()(
                    user=user,
                    application=application,
                    scope=scopes.format(**names),
                    expires=timezone.now() + timedelta(hours=1),
                )
                set_token_value(token, raw)
                token.save()
                client = Client(headers={"Authorization": f"Bearer {raw}"})
            clients[role, scope_set] = client
    return names, clients


def call(client: Client, endpoint: Endpoint, names: dict):
    path = endpoint.path.format(**names)
    body = endpoint.body
    if body is None:
        return getattr(client, endpoint.method)(path)
    if body == MULTIPART_PNG:
        data = encode_multipart(BOUNDARY, {"image": SimpleUploadedFile("i.png", png_bytes())})
        return getattr(client, endpoint.method)(path, data, content_type=MULTIPART_CONTENT)
    text = json.dumps(body)
    for key, value in names.items():
        text = text.replace("{" + key + "}", value)
    return getattr(client, endpoint.method)(path, text, content_type="application/json")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_permission_matrix(world, endpoint):
    names, clients = world
    wrong = []
    for role in ROLES:
        for scope_set in SCOPE_SETS:
            with transaction.atomic():
                response = call(clients[role, scope_set], endpoint, names)
                transaction.set_rollback(True)
            expected = expected_status(endpoint, role, scope_set)
            if response.status_code != expected:
                wrong.append(
                    f"{role or 'non-member'} with {scope_set}: "
                    f"{response.status_code}, expected {expected}"
                )
            elif (
                expected == 403
                and scope_set != "session"
                and endpoint.least_role
                and (RANK.get(role or "", 0) >= RANK[endpoint.least_role])
            ):
                assert "insufficient_scope" in response["WWW-Authenticate"], (role, scope_set)
    assert not wrong, f"{endpoint.name}:\n" + "\n".join(wrong)


def test_a_badge_class_bound_token_lists_only_its_badge_class(world):
    names, clients = world
    listed = clients["staff", "r:badgeclass:X"].get("/v2/badgeclasses").json()["result"]
    assert [b["entityId"] for b in listed] == [names["x"]]
    awards = (
        clients["staff", "rw:badgeclass:Y"]
        .get(f"/v2/issuers/{names['issuer']}/assertions")
        .json()["result"]
    )
    assert awards == []  # the only award is of X
