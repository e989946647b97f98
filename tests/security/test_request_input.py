"""Hostile request input against a live server: no input may produce a 500.

An attacker with an account (or none) sends what a careless client never would: cursors
that decode to digits that are not ASCII, dates at the ends of the calendar with offsets
that push them past year 1 or 9999, a badge class whose expiry overflows
every award, JSON nested 60,000 deep or holding NaN, NUL characters and lone surrogates
(which PostgreSQL refuses), multipart bodies without a boundary, a thousand query fields.
Each answer must be a 4xx in the /v2 envelope that says what is wrong, and the server's
log must show no traceback: a fault of ours would have been a 500.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from tests.factories import png_data_uri
from tests.servers import RunningServer, issuer_with_badge

pytestmark = pytest.mark.server

YEAR_ONE_EAST = "0001-01-01T00:00:00+14:00"  # before year 1 once made UTC
YEAR_9999_WEST = "9999-12-31T23:59:59-14:00"  # after year 9999 once made UTC
NAIVE = "2030-01-01T00:00:00"  # no offset: read as UTC
DEEP_JSON = "[" * 60_000 + "]" * 60_000
JSON_TYPE = {"Content-Type": "application/json"}


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def refused(response: httpx.Response) -> dict:
    """The answer is a 4xx in the envelope, with a description; its body."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "result", "validationErrors", "fieldErrors"}
    assert body["status"]["success"] is False
    assert body["status"]["description"]
    assert body["result"] == []
    return body


def blames(response: httpx.Response, field: str) -> dict:
    body = refused(response)
    assert response.status_code == 400
    assert body["fieldErrors"].get(field), body
    return body


@pytest.fixture(autouse=True)
def no_traceback_in_log(live: RunningServer) -> Iterator[None]:
    """Whatever the test sent, the server wrote no traceback and no 500 to its log."""
    start = live.log_path.stat().st_size
    yield
    with live.log_path.open("rb") as log:
        log.seek(start)
        written = log.read().decode(errors="replace")
    assert "Traceback" not in written, written[-3000:]
    assert "Internal Server Error" not in written, written[-3000:]


@pytest.fixture(scope="module")
def api(account) -> httpx.Client:
    return account("hostile-input@example.org")


@pytest.fixture(scope="module")
def ids(api) -> dict[str, str]:
    """An issuer, a badge class and an award of it, as entity ids."""
    issuer, badge = issuer_with_badge(api, "Input Checks")
    award = api.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions",
        json={"recipient": {"identity": "earner@example.org"}},
    )
    assert award.status_code == 201, award.text
    return {
        "issuer": issuer["entityId"],
        "badge": badge["entityId"],
        "award": award.json()["result"][0]["entityId"],
    }


# --- cursors and page sizes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/v2/issuers", "²"),  # isdigit(), but int() refuses it
        ("/v2/issuers", "١٢٣"),  # Arabic-Indic digits: isdigit(), and int() reads them
        ("/v2/badgeclasses", "9" * 40),  # no database integer is this large
        ("/v2/issuers/{issuer}/assertions", "²"),
        ("/v2/assertions/changed", "2026-01-01T00:00:00+00:00|١٢٣"),
        ("/v2/assertions/changed", f"{YEAR_ONE_EAST}|1"),
        ("/v2/issuers/changed", f"{YEAR_9999_WEST}|1"),
        ("/v2/backpack/assertions", f"{YEAR_ONE_EAST}|AAAAAAAAAAAAAAAAAAAAAA"),
    ],
)
def test_forged_cursors_are_refused(api, ids, path, cursor):
    response = api.get(path.format(**ids), params={"cursor": cursor_of(cursor)})
    body = refused(response)
    assert response.status_code == 400
    assert "cursor" in body["status"]["description"]


@pytest.mark.parametrize("num", ["0", "1001", str(10**30), "-1"])
def test_page_sizes_out_of_bounds_are_clamped_as_badgr_did(api, num):
    assert api.get("/v2/issuers", params={"num": num}).status_code == 200


@pytest.mark.parametrize("num", ["many", "1.5", "", "1e3"])
def test_page_sizes_that_are_no_number_blame_num(api, num):
    blames(api.get("/v2/issuers", params={"num": num}), "num")


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v2/assertions/changed", "since"),
        ("/v2/issuers/changed", "since"),
        ("/v2/badgeclasses/changed", "since"),
        ("/v2/issuers/{issuer}/assertions", "issuedSince"),
        ("/v2/badgeclasses/{badge}/assertions", "issuedUntil"),
    ],
)
@pytest.mark.parametrize("value", [YEAR_ONE_EAST, YEAR_9999_WEST, "1899-12-31T23:00:00Z"])
def test_list_filters_with_dates_out_of_range(api, ids, path, name, value):
    blames(api.get(path.format(**ids), params={name: value}), name)


@pytest.mark.parametrize(
    ("award", "field"),
    [
        ({"issuedOn": YEAR_ONE_EAST}, "issuedOn"),
        ({"expires": YEAR_9999_WEST}, "expires"),
        ({"issuedOn": "1899-12-31T23:59:59"}, "issuedOn"),
    ],
)
def test_award_dates_out_of_range(api, ids, award, field):
    single = {"recipient": {"identity": "dates@example.org"}, **award}
    blames(api.post(f"/v2/badgeclasses/{ids['badge']}/assertions", json=single), field)
    batch = {"assertions": [single, {"recipient": {"identity": "other@example.org"}}]}
    blames(api.post(f"/v2/badgeclasses/{ids['badge']}/issue", json=batch), f"assertions.0.{field}")
    by_issuer = {**single, "badgeclass": ids["badge"]}
    blames(api.post(f"/v2/issuers/{ids['issuer']}/assertions", json=by_issuer), field)


@pytest.mark.parametrize("expires", [YEAR_9999_WEST, "9999-12-31T23:00:00-05:00"])
def test_changed_award_expiry_out_of_range(api, ids, expires):
    blames(api.put(f"/v2/assertions/{ids['award']}", json={"expires": expires}), "expires")


def test_a_naive_time_is_read_as_utc(api, ids):
    """What Badgr did with a time without an offset: no 500, no refusal, UTC."""
    award = api.post(
        f"/v2/badgeclasses/{ids['badge']}/assertions",
        json={"recipient": {"identity": "naive@example.org"}, "expires": NAIVE},
    )
    assert award.status_code == 201, award.text
    assert award.json()["result"][0]["expires"].startswith("2030-01-01T00:00:00")


def badge_class(**fields) -> dict:
    return {
        "name": "Expiring",
        "description": "Expires.",
        "image": png_data_uri(),
        "criteriaNarrative": "Do it.",
        **fields,
    }


@pytest.mark.parametrize(
    "expires",
    [
        {"amount": 100_000_000, "duration": "days"},
        {"amount": 5_219, "duration": "weeks"},
        {"amount": 101, "duration": "years"},
        {"amount": 1201, "duration": "months"},
    ],
)
def test_badge_class_expiry_is_bounded(api, ids, expires):
    made = api.post(f"/v2/issuers/{ids['issuer']}/badgeclasses", json=badge_class(expires=expires))
    assert refused(made)["fieldErrors"], made.text
    changed = api.put(f"/v2/badgeclasses/{ids['badge']}", json={"expires": expires})
    assert refused(changed)["fieldErrors"], changed.text


def test_an_expiry_that_would_end_after_9999_blames_the_award(api, ids):
    made = api.post(
        f"/v2/issuers/{ids['issuer']}/badgeclasses",
        json=badge_class(expires={"amount": 100, "duration": "years"}),
    )
    assert made.status_code == 201, made.text
    badge = made.json()["result"][0]["entityId"]
    late = {"recipient": {"identity": "late@example.org"}, "issuedOn": "9950-06-01T00:00:00Z"}
    blames(api.post(f"/v2/badgeclasses/{badge}/assertions", json=late), "expires")


# --- bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v2/users/self"),
        ("POST", "/v2/issuers"),
        ("POST", "/v2/assertions/revoke"),
        ("DELETE", "/v2/assertions/{award}"),
    ],
)
def test_json_nested_60000_deep(api, ids, method, path):
    response = api.request(method, path.format(**ids), content=DEEP_JSON, headers=JSON_TYPE)
    body = refused(response)
    assert response.status_code == 400
    assert "nested" in body["status"]["description"]


def test_json_nested_past_the_limit_inside_a_free_form_field(api, ids):
    deep: dict = {"targetName": "x"}
    for _ in range(100):
        deep = {"inner": deep}
    response = api.put(f"/v2/badgeclasses/{ids['badge']}", json={"alignments": [deep]})
    assert "nested" in refused(response)["status"]["description"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_json_numbers_that_are_not_numbers(api, ids, number):
    content = '{"alignments": [{"targetName": "x", "weight": NUMBER}]}'.replace("NUMBER", number)
    response = api.put(f"/v2/badgeclasses/{ids['badge']}", content=content, headers=JSON_TYPE)
    blames(response, "alignments.0.weight")


@pytest.mark.parametrize(
    ("path", "content", "field"),
    [
        # PostgreSQL refuses NUL in text and in jsonb; SQLite keeps it, to trip up others.
        ("/v2/users/self", '{"firstName": "Ada\\u0000"}', "firstName"),
        ("/v2/users/self", '{"firstName": "Ada", "extra": {"\\u0000": 1}}', "extra"),
        # A lone surrogate is no character: it has no UTF-8; PostgreSQL refuses it in jsonb.
        (
            "/v2/badgeclasses/{badge}",
            '{"alignments": [{"targetName": "\\ud800"}]}',
            "alignments.0.targetName",
        ),
    ],
)
def test_json_text_no_database_can_store(api, ids, path, content, field):
    response = api.put(path.format(**ids), content=content, headers=JSON_TYPE)
    blames(response, field)


def test_nul_in_path_and_query(api, ids):
    refused(api.get("/v2/issuers/a%00b"))
    refused(api.get(f"/v2/issuers/{ids['issuer']}/assertions?recipient=a%00b"))


def test_a_thousand_query_fields(api):
    query = "&".join(f"f{n}=x" for n in range(1_200))
    refused(api.get(f"/v2/issuers?{query}"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/issuers"),
        ("PUT", "/v2/issuers/{issuer}/image"),
        ("PUT", "/v2/badgeclasses/{badge}/image"),
        ("POST", "/v2/backpack/import"),
    ],
)
def test_multipart_without_a_boundary(api, ids, method, path):
    response = api.request(
        method,
        path.format(**ids),
        content=b"--x\r\nContent-Disposition: form-data; name=image\r\n\r\nx\r\n--x--\r\n",
        headers={"Content-Type": "multipart/form-data"},
    )
    body = refused(response)
    assert response.status_code == 400
    assert "multipart" in body["status"]["description"]


def test_anonymous_hostile_input_is_refused_before_anything_else(live, ids):
    with httpx.Client(base_url=live.base_url) as anonymous:
        multipart = anonymous.post(
            "/v2/issuers", content=b"x", headers={"Content-Type": "multipart/form-data"}
        )
        assert "multipart" in refused(multipart)["status"]["description"]
        refused(anonymous.put("/v2/users/self", content=DEEP_JSON, headers=JSON_TYPE))
