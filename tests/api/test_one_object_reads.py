"""The Bearer-authenticated /v2 GETs of one object (issuer, badge class, award) and of
/v2/users/self (issue 19): each reads its object, and the caller's role, in one raw query
after the token's, and answers exactly as the ORM reads it replaced did.

The reference below is those ORM reads, with the permission decided on them afresh
(`connect.permissions`, the role read by its own query), for every kind of caller:
owner, editor, staff, non-member, and tokens of other scopes.
"""

import json
import secrets
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value

from laurels.accounts.models import User
from laurels.accounts.selectors import user_profile
from laurels.api.envelope import envelope
from laurels.api.issuing import AssertionEnvelope, BadgeClassEnvelope, IssuerEnvelope
from laurels.api.issuing_presenters import assertion_json, badge_class_json, issuer_json
from laurels.api.presenters import user_json
from laurels.api.users import UserEnvelope
from laurels.connect.permissions import Caller, Permission, require, require_issuing
from laurels.connect.permissions import IssuingAction as Action
from laurels.core.errors import NotFound, PermissionDenied
from laurels.issuing import selectors
from laurels.issuing.models import Assertion, BadgeClass, Issuer, IssuerStaff
from tests.connect.oauth_helpers import register_app
from tests.factories import (
    AssertionFactory,
    BadgeClassFactory,
    EmailAddressFactory,
    IssuerFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ROLES = ["owner", "editor", "staff", None]  # None: not a member of the issuer
SCOPE_SETS = {
    "session": None,
    "rw:issuer": "r:profile rw:issuer",  # as Badgr's password log-in gives
    "r:issuer": "r:issuer",
    "no issuer scope": "r:profile r:backpack",
    "r:badgeclass:X": "r:profile r:badgeclass:{x}",
    "bound to this issuer": "r:profile r:issuer:{issuer}",
    "bound to another issuer": "r:profile rw:issuer:{other}",
}
PATHS = {
    "issuer": "/v2/issuers/{issuer}",
    "badge class X": "/v2/badgeclasses/{x}",
    "badge class Y": "/v2/badgeclasses/{y}",
    "award": "/v2/assertions/{award}",
    "self": "/v2/users/self",
}


@pytest.fixture
def world():
    """An issuer with an owner (three addresses), an editor and a staff member; an
    outsider who owns another issuer; badge class X (with an award, both with a creator
    and Open Badges extensions) and Y (no creator); a session and a token per scope set."""
    people = {role: UserFactory(email=f"{role or 'outsider'}@example.org") for role in ROLES}
    EmailAddressFactory(user=people["owner"], email="b-second@example.org", verified=False)
    EmailAddressFactory(user=people["owner"], email="a-first@example.org")
    issuer = IssuerFactory(created_by=people["owner"], extensions={"extensions:x": {"a": 1}})
    for role in ("owner", "editor", "staff"):
        IssuerStaff.objects.create(issuer=issuer, user=people[role], role=role)
    other = IssuerFactory(owner=people[None])
    x = BadgeClassFactory(issuer=issuer, name="X", created_by=people["editor"], tags=["t"])
    y = BadgeClassFactory(issuer=issuer, name="Y", expires_amount=2, expires_duration="years")
    award = AssertionFactory(
        badge_class=x,
        created_by=people["staff"],
        evidence=[
            {"url": "https://example.org/e", "narrative": "Did it."},
            {"url": "https://example.org/only-a-link"},
            {"narrative": "Only words."},
        ],
        extensions={"extensions:y": True},
        expires=timezone.now() + timedelta(days=30),
    )
    names = {
        "issuer": issuer.entity_id,
        "other": other.entity_id,
        "x": x.entity_id,
        "y": y.entity_id,
        "award": award.entity_id,
    }
    application = register_app(name="One object app").application
    callers = {}
    for role, user in people.items():
        for scope_set, scopes in SCOPE_SETS.items():
            if scopes is None:
                client = Client()
                client.force_login(user)
                callers[role, scope_set] = (client, user, None, None)
                continue
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
            callers[role, scope_set] = (client, user, token.scope, application)
    return names, callers


def _as_before(path: str, names: dict, user, scopes: str | None, application) -> tuple:
    """Status and body as the ORM reads answered (the code these GETs had before)."""
    caller = Caller(
        user=User.objects.get(pk=user.pk),
        scopes=frozenset(scopes.split()) if scopes is not None else None,
        application=application,
    )
    try:
        return 200, _answer_before(path, names, caller)
    except NotFound:
        return 404, None
    except PermissionDenied:
        return 403, None


def _answer_before(path: str, names: dict, caller: Caller) -> dict:
    if path == "self":
        require(caller, Permission.PROFILE_READ)
        return envelope(
            user_json(User.objects.prefetch_related("email_addresses").get(pk=caller.user.pk))
        )
    if path == "issuer":
        issuer = (
            Issuer.objects.select_related("created_by")
            .prefetch_related(selectors.staff_prefetch())
            .filter(entity_id=names["issuer"])
            .first()
        )
        require_issuing(caller, Action.ISSUER_VIEW, issuer)
        return envelope(issuer_json(issuer))
    if path == "award":
        award = Assertion.objects.select_related("badge_class", "issuer", "created_by").get(
            entity_id=names["award"]
        )
        require_issuing(caller, Action.AWARD_HISTORY, award.issuer, award.badge_class)
        return envelope(assertion_json(award))
    entity_id = names["x"] if path == "badge class X" else names["y"]
    badge_class = BadgeClass.objects.select_related("issuer", "created_by").get(entity_id=entity_id)
    require_issuing(caller, Action.BADGECLASS_VIEW, badge_class.issuer, badge_class)
    return envelope(badge_class_json(badge_class))


@pytest.mark.parametrize("path", PATHS)
def test_every_caller_gets_the_answer_the_orm_reads_gave(world, path):
    names, callers = world
    differ = []
    for (role, scope_set), (client, user, scopes, application) in callers.items():
        response = client.get(PATHS[path].format(**names))
        status, body = _as_before(path, names, user, scopes, application)
        got = response.json() if status == 200 and response.status_code == 200 else None
        if (response.status_code, got) != (status, body):
            differ.append(f"{role or 'non-member'} with {scope_set}: {response.status_code}")
    assert not differ, f"{path}:\n" + "\n".join(differ)


DOCUMENTED_SCHEMAS = {
    "issuer": IssuerEnvelope,
    "badge class X": BadgeClassEnvelope,
    "badge class Y": BadgeClassEnvelope,
    "award": AssertionEnvelope,
    "self": UserEnvelope,
}


@pytest.mark.parametrize("path", PATHS)
def test_each_answer_is_what_its_documented_schema_makes_of_it(world, path):
    """These GETs send the presenters' answer without django-ninja validating it against
    the operation's response schema (`api.envelope.envelope_response`). So the answer
    must be exactly what that validation and dump would have sent: no field the schema
    leaves out, none missing, no value of another type."""
    names, callers = world
    client = callers["owner", "rw:issuer"][0]
    body = client.get(PATHS[path].format(**names)).json()
    schema = DOCUMENTED_SCHEMAS[path]
    assert schema.model_validate(body).model_dump(mode="json") == body


def test_the_answers_are_sent_as_the_renderer_sends_the_others(world):
    """Same bytes and headers as django-ninja's renderer would send: compact JSON, the
    same Content-Type as a list answer."""
    names, callers = world
    client = callers["owner", "rw:issuer"][0]
    listed = client.get("/v2/issuers")
    for path in PATHS.values():
        answer = client.get(path.format(**names))
        assert answer["Content-Type"] == listed["Content-Type"]
        assert answer.content == json.dumps(answer.json(), separators=(",", ":")).encode()


def test_the_answers_are_what_was_asked_for(world):
    """Not only equal to the reference: the rows themselves, and the owner's addresses
    in their model's order (primary first, then by address)."""
    names, callers = world
    client = callers["owner", "rw:issuer"][0]
    issuer = client.get(f"/v2/issuers/{names['issuer']}").json()["result"][0]
    assert [m["role"] for m in issuer["staff"]] == ["owner", "editor", "staff"]
    assert issuer["extensions"] == {"extensions:x": {"a": 1}}
    assert client.get(f"/v2/badgeclasses/{names['y']}").json()["result"][0]["createdBy"] is None
    award = client.get(f"/v2/assertions/{names['award']}").json()["result"][0]
    assert award["badgeclass"] == names["x"] and award["evidence"][0]["narrative"] == "Did it."
    emails = client.get("/v2/users/self").json()["result"][0]["emails"]
    assert [e["email"] for e in emails] == [
        "owner@example.org",
        "a-first@example.org",
        "b-second@example.org",
    ]


def test_a_query_with_brackets_is_answered(world):
    """The token check passes oauthlib the URL without its query: oauthlib raises on
    characters such as `[` in a query, which must not turn into a 500."""
    names, callers = world
    client = callers["owner", "rw:issuer"][0]
    assert client.get("/v2/users/self?ids[]=1").status_code == 200
    stranger = Client(headers={"Authorization": "Bearer not-a-token"})
    assert stranger.get(f"/v2/issuers/{names['issuer']}?x=[").status_code == 401


def test_unknown_ids_are_not_found(world):
    _, callers = world
    client = callers["owner", "rw:issuer"][0]
    for path in ("/v2/issuers/", "/v2/badgeclasses/", "/v2/assertions/"):
        assert client.get(path + "no-such-entity-id").status_code == 404


@pytest.mark.parametrize("path", PATHS)
def test_a_bearer_get_is_one_query_after_the_token(world, path):
    """The token with its app and user is read on the driver's cursor (unrecorded); then
    one query reads the object with the caller's role (for the issuer, its staff list
    too), and nothing else does. The first request of a token also notes the app's use,
    so it is left out."""
    names, callers = world
    client = callers["editor", "rw:issuer"][0]
    url = PATHS[path].format(**names)
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert len(queries) == 1, [q["sql"] for q in queries]


def test_a_profile_read_again_after_a_change_reloads_the_user(world):
    """`reload=True` (after a write) still reads the account afresh."""
    _, callers = world
    user = callers["owner", "rw:issuer"][1]
    User.objects.filter(pk=user.pk).update(first_name="Changed")
    assert user_profile(viewer=user, reload=True).first_name == "Changed"
    assert [a.email for a in user_profile(viewer=user, reload=False).email_addresses.all()] == [
        "owner@example.org",
        "a-first@example.org",
        "b-second@example.org",
    ]
