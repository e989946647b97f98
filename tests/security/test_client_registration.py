"""Attacks on dynamic client registration (RFC 7591, `POST /o/register`) and on the client
configuration endpoint (RFC 7592, `/o/register/{client_id}`), against a live server.

Anyone may register an app, so every byte of the metadata is the attacker's: each test
sends one class of hostile metadata and expects RFC 7591's JSON error naming the field,
and nothing stored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import PASSWORD, RunningServer, laurels_cli, laurels_server

pytestmark = pytest.mark.server

TIMEOUT = 30
CALLBACK = "https://wall.example.org/oauth/callback"


def register(server: RunningServer, metadata: dict | None = None, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.base_url}/o/register", json=metadata, timeout=TIMEOUT, **kwargs)


def metadata(**fields) -> dict:
    """Valid metadata with a name no other test uses, changed by `fields`."""
    return {
        "client_name": f"Badge Wall {uuid.uuid4().hex[:8]}",
        "redirect_uris": [CALLBACK],
        "scope": "r:profile r:backpack",
        **fields,
    }


def app_count(server: RunningServer) -> int:
    """How many apps the server holds, as its operator would list them."""
    return len(laurels_cli(server, "apps", "list").splitlines()) - 1


def refusal(response: httpx.Response, field: str, error: str) -> str | None:
    """None if `response` is RFC 7591's 400 `error` naming `field`; else what is wrong."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if (
        response.status_code == 400
        and isinstance(body, dict)
        and body.get("error") == error
        and field in str(body.get("error_description", ""))
    ):
        return None
    return f"{response.status_code} {response.text[:160]!r}"


def assert_all_refused(
    server: RunningServer, cases: list[tuple[str, dict]], error: str = "invalid_client_metadata"
) -> None:
    """Send each (field, metadata); every one must be refused naming its field."""
    before = app_count(server)
    wrong = {}
    for field, sent in cases:
        problem = refusal(register(server, sent), field, error)
        if problem:
            wrong[f"{field}={json.dumps(sent.get(field))[:80]}"] = problem
    assert not wrong, wrong
    assert app_count(server) == before


def test_every_metadata_field_has_its_json_type(live):
    """A list where a string belongs was stored as its Python repr."""
    cases = [
        ("client_name", metadata(client_name=["a", "b"])),
        ("client_name", metadata(client_name={"en": "Wall"})),
        ("client_name", metadata(client_name=7)),
        ("client_uri", metadata(client_uri=["https://wall.example.org"])),
        ("logo_uri", metadata(logo_uri={"href": "https://wall.example.org/l.png"})),
        ("tos_uri", metadata(tos_uri=1)),
        ("policy_uri", metadata(policy_uri=True)),
        ("scope", metadata(scope=["r:profile"])),
        ("contacts", metadata(contacts="ops@wall.example.org")),
        ("contacts", metadata(contacts=[{"email": "ops@wall.example.org"}])),
        ("grant_types", metadata(grant_types="authorization_code")),
        ("response_types", metadata(response_types="code")),
        ("token_endpoint_auth_method", metadata(token_endpoint_auth_method=["none"])),
        ("redirect_uris", metadata(redirect_uris=[["https://wall.example.org/cb"]])),
        ("redirect_uris", metadata(redirect_uris={"web": "https://wall.example.org/cb"})),
    ]
    assert_all_refused(live, cases)


def test_counts_lengths_and_the_body_are_capped(live):
    """20,000 redirect URIs were accepted; so were names and URIs of any length."""
    many = [f"https://wall.example.org/cb/{n}" for n in range(11)]
    long_uri = "https://wall.example.org/" + "a" * 2000
    cases = [
        ("redirect_uris", metadata(redirect_uris=many)),
        ("redirect_uris", metadata(redirect_uris=[long_uri])),
    ]
    assert_all_refused(live, cases, error="invalid_redirect_uri")
    cases = [
        ("client_name", metadata(client_name="W" * 101)),
        ("client_uri", metadata(client_uri=long_uri)),
        ("contacts", metadata(contacts=[f"ops{n}@wall.example.org" for n in range(11)])),
        ("contacts", metadata(contacts=["o" * 250 + "@wall.example.org"])),
        ("grant_types", metadata(grant_types=["authorization_code"] * 5)),
        ("scope", metadata(scope="r:profile " * 200)),
    ]
    assert_all_refused(live, cases)

    flood = register(live, metadata(redirect_uris=[CALLBACK + f"/{n}" for n in range(20_000)]))
    assert flood.status_code == 413, flood.text[:200]
    assert flood.json()["error"] == "invalid_client_metadata"
    deep = register(live, content=b'{"client_name": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert deep.status_code == 400, deep.text[:200]

    at_the_limits = register(
        live,
        metadata(
            client_name="W" * 92 + uuid.uuid4().hex[:8],
            redirect_uris=[f"https://wall.example.org/cb/{n}" for n in range(10)],
            contacts=[f"ops{n}@wall.example.org" for n in range(10)],
        ),
    )
    assert at_the_limits.status_code == 201, at_the_limits.text


def test_uris_carry_no_credentials_fragments_or_other_schemes(live):
    redirect_cases = [
        metadata(redirect_uris=["https://user:pass@wall.example.org/cb"]),
        metadata(redirect_uris=["https://user@wall.example.org/cb"]),
        metadata(redirect_uris=["https://wall.example.org/cb#frag"]),
        metadata(redirect_uris=["https://wall.example.org/cb#"]),
        metadata(redirect_uris=["http://wall.example.org/cb"]),
        metadata(redirect_uris=["javascript:alert(1)//wall.example.org/cb"]),
        metadata(redirect_uris=[CALLBACK + " https://evil.example.net/cb"]),
        metadata(redirect_uris=[CALLBACK + "\n"]),
        metadata(redirect_uris=["https:///cb"]),
    ]
    assert_all_refused(
        live, [("redirect_uris", case) for case in redirect_cases], error="invalid_redirect_uri"
    )
    cases = []
    for field in ("client_uri", "logo_uri", "tos_uri", "policy_uri"):
        for uri in (
            "ftp://wall.example.org/x",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "https://user:pass@wall.example.org/x",
            "//wall.example.org/x",
        ):
            cases.append((field, metadata(**{field: uri})))
    assert_all_refused(live, cases)

    fine = register(
        live,
        metadata(
            client_uri="https://wall.example.org",
            logo_uri="https://wall.example.org/logo.png",
            tos_uri="https://wall.example.org/terms",
            policy_uri="http://wall.example.org/privacy",
        ),
    )
    assert fine.status_code == 201, fine.text
    assert fine.json()["client_uri"] == "https://wall.example.org"


def test_names_that_pass_as_the_server_are_refused(live):
    host = httpx.URL(live.base_url).host  # 127.0.0.1 on this server
    names = [
        "Laurels",
        "  LAURELS ",
        "laurels",
        "\uff2c\uff41\uff55\uff52\uff45\uff4c\uff53",  # fullwidth
        "L\u0430urels",  # Cyrillic a
        "L\u200baurels",  # zero-width space
        "Laurels Wallet",
        "MyLaurelsApp",
        "Admin",
        "Administrator",
        "ADMIN tools",
        "Official badges",
        "Support",
        "Security Team",
        "\u0405\u0435\u0441urity",  # Cyrillic lookalikes
        host,
        f"Sign in to {host}",
        "https://wall.example.org",
        "Visit wall.example.org",
        "Badge\u202eWall",  # right-to-left override
        "Badge\nWall",
        "Badge\x00Wall",
        "",
        "   ",
    ]
    assert_all_refused(live, [("client_name", metadata(client_name=name)) for name in names])

    for fine in ("Badminton Club", "Школа значков", "Supportive Peers Network"):
        response = register(live, metadata(client_name=f"{fine} {uuid.uuid4().hex[:6]}"))
        assert response.status_code == 201, (fine, response.text)


def test_a_name_already_in_use_cannot_be_registered_again(live):
    """An app registering under the name of an app the operator registered would borrow
    the trust its users give that name on the consent page."""
    laurels_cli(
        live,
        "apps",
        "create",
        "--name",
        "Campus Credentials",
        "--redirect-uri",
        "https://campus.example.edu/cb",
        "--scopes",
        "r:profile",
    )
    first = metadata(client_name="Hall Pass Tracker")
    assert register(live, first).status_code == 201
    cases = [
        ("client_name", metadata(client_name="Campus Credentials")),
        ("client_name", metadata(client_name="campus  CREDENTIALS")),
        ("client_name", metadata(client_name="\u0421ampus Credentials")),  # Cyrillic C
        ("client_name", first),  # the same registration twice
    ]
    assert_all_refused(live, cases)


def test_grant_types_and_client_authentication_are_limited_to_what_apps_may_use(live):
    """A self-registered app asked for the password grant and got it: with it, an app that
    collects someone's password gets their tokens without a consent page."""
    laurels_cli(live, "createuser", "victim@example.org", "--password", PASSWORD)
    cases = [
        ("grant_types", metadata(grant_types=["password"], redirect_uris=[])),
        ("grant_types", metadata(grant_types=["implicit"])),
        ("grant_types", metadata(grant_types=["urn:ietf:params:oauth:grant-type:device_code"])),
        (
            "grant_types",
            metadata(grant_types=["client_credentials"], token_endpoint_auth_method="none"),
        ),
        ("response_types", metadata(response_types=["token"])),
        ("response_types", metadata(response_types=["code", "id_token"])),
        ("token_endpoint_auth_method", metadata(token_endpoint_auth_method="private_key_jwt")),
        ("token_endpoint_auth_method", metadata(token_endpoint_auth_method="")),
    ]
    before = app_count(live)
    wrong = {}
    for field, sent in cases:
        response = register(live, sent)
        if problem := refusal(response, field, "invalid_client_metadata"):
            wrong[json.dumps(sent.get(field))] = problem
        if response.status_code == 201 and "password" in sent.get("grant_types", []):
            body = response.json()
            stolen = httpx.post(
                f"{live.base_url}/o/token",
                data={
                    "grant_type": "password",
                    "username": "victim@example.org",
                    "password": PASSWORD,
                    "client_id": body["client_id"],
                    "client_secret": body["client_secret"],
                },
                timeout=TIMEOUT,
            )
            wrong["password grant"] = f"token endpoint answered {stolen.status_code}"
    assert not wrong, wrong
    assert app_count(live) == before

    public = register(live, metadata(token_endpoint_auth_method="none"))
    assert public.status_code == 201, public.text
    assert public.json()["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in public.json()


def test_signed_statements_and_keys_are_refused_not_silently_trusted(live):
    """Laurels vouches for no software publisher and authenticates apps by secret: a
    software statement or key set would be claims nobody checked."""
    cases = [
        ("software_statement", metadata(software_statement="eyJhbGciOiJub25lIn0.e30.")),
        ("jwks", metadata(jwks={"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})),
        ("jwks_uri", metadata(jwks_uri="https://wall.example.org/jwks.json")),
    ]
    assert_all_refused(live, cases)


def test_scope_is_a_plain_space_separated_list_of_known_scopes(live):
    cases = [
        ("scope", metadata(scope="r:profile\tr:backpack")),
        ("scope", metadata(scope="r:profile\u00a0r:backpack")),
        ("scope", metadata(scope="r:profile\nr:backpack")),
        ("scope", metadata(scope="r:profile  r:backpack")),
        ("scope", metadata(scope="r:profile\x00")),
        ("scope", metadata(scope="god:mode")),
        ("scope", metadata(scope="")),
    ]
    assert_all_refused(live, cases)


def test_strings_no_database_can_store_are_refused_not_crashed_on(live):
    """A lone surrogate is valid JSON but no valid text."""
    cases = [
        ("client_name", metadata(client_name="Badge \ud800 Wall")),
        ("client_uri", metadata(client_uri="https://wall.example.org/\udfff")),
        ("contacts", metadata(contacts=["ops\ud800@wall.example.org"])),
    ]
    before = app_count(live)
    wrong = {}
    for field, sent in cases:
        response = register(
            live, content=json.dumps(sent).encode(), headers={"Content-Type": "application/json"}
        )
        if problem := refusal(response, field, "invalid_client_metadata"):
            wrong[field] = problem
    assert not wrong, wrong
    assert app_count(live) == before


def test_the_configuration_endpoint_applies_the_same_rules(live):
    """RFC 7592's update (PUT) rewrote the app through the toolkit alone: every rule of
    registration, and the review policy for scopes, were skipped."""
    created = register(live, metadata()).json()
    uri = created["registration_client_uri"]

    def update(changes: dict) -> httpx.Response:
        nonlocal created
        response = httpx.put(
            uri,
            json={**metadata(client_name=created["client_name"]), **changes},
            headers={"Authorization": f"Bearer {created['registration_access_token']}"},
            timeout=TIMEOUT,
        )
        if response.status_code == 200:
            created = {**created, **response.json()}
        return response

    wrong = {}
    for field, changes in [
        ("client_name", {"client_name": "Laurels Security"}),
        ("client_name", {"client_name": ["a", "b"]}),
        ("grant_types", {"grant_types": ["password"], "redirect_uris": []}),
        ("token_endpoint_auth_method", {"token_endpoint_auth_method": "none"}),
        ("software_statement", {"software_statement": "eyJhbGciOiJub25lIn0.e30."}),
        ("client_uri", {"client_uri": "https://user:pass@wall.example.org"}),
    ]:
        if problem := refusal(update(changes), field, "invalid_client_metadata"):
            wrong[f"{field}={changes[field]}"] = problem
    bad_redirect = update({"redirect_uris": ["https://user:pass@wall.example.org/cb"]})
    if problem := refusal(bad_redirect, "redirect_uris", "invalid_redirect_uri"):
        wrong["redirect_uris"] = problem
    assert not wrong, wrong

    wider = update({"scope": "r:profile rw:issuer"})
    assert wider.status_code == 200, wider.text
    assert wider.json()["scope"] == "r:profile rw:issuer"
    assert wider.json()["laurels_review_status"] == "pending"

    read = httpx.get(
        uri,
        headers={"Authorization": f"Bearer {created['registration_access_token']}"},
        timeout=TIMEOUT,
    )
    assert read.status_code == 200
    assert read.json()["laurels_review_status"] == "pending"


@pytest.fixture(scope="module")
def strict(tmp_path_factory) -> Iterator[RunningServer]:
    """A server allowing three self-registrations per client address an hour."""
    with laurels_server(
        tmp_path_factory.mktemp("strict") / "var",
        LAURELS_SELF_REGISTRATION_RATE_PER_IP="3",
    ) as server:
        yield server


def test_one_address_cannot_flood_the_server_with_registrations(strict):
    """Each registration is a row and a token forever; one client could make millions.
    The limit is per worker process without REDIS_URL, as for log-in attempts."""
    answers = [register(strict, metadata()).status_code for _ in range(4)]
    assert answers == [201, 201, 201, 429], answers
