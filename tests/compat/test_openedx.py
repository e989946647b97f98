"""Open edX's Badgr backend (lms/djangoapps/badges/backends/badgr.py, the v2 one with
`_get_access_token`, `BADGR_ISSUER_SLUG` and `/v2/badgeclasses/{slug}/assertions`) against
a live Laurels, with the calls it makes, in its order, with its bodies and headers.

`OpenEdxBadgrBackend` below plays that backend: the same library (`requests`, which
Laurels installs with django-oauth-toolkit), the same URLs, form and multipart bodies and
JSON, and the same fields read from each answer. It records every call, so the tests can
check the sequence itself, not only the outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import requests

from tests.factories import png_bytes
from tests.servers import PASSWORD, RunningServer, api_client_for, laurels_server

BADGR_USERNAME = "openedx-badges@example.org"
LEARNER = "learner@example.org"
TIMEOUT = 30  # settings.BADGR_TIMEOUT


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[RunningServer]:
    home: Path = tmp_path_factory.mktemp("compat-openedx") / "var"
    with laurels_server(home, workers=2) as server:
        yield server


@pytest.fixture(scope="module")
def issuer_slug(live) -> str:
    """BADGR_ISSUER_SLUG: the issuer an operator made on the Badgr server, by hand, for
    the account Open edX signs in with (BADGR_USERNAME / BADGR_PASSWORD)."""
    with api_client_for(live, BADGR_USERNAME) as operator:
        answer = operator.post(
            "/v2/issuers",
            json={
                "name": "Open edX Demo",
                "url": "https://courses.example.org",
                "email": "badges@courses.example.org",
            },
        )
    assert answer.status_code == 201, answer.text
    return answer.json()["result"][0]["entityId"]


def _log_if_raised(response: requests.Response) -> None:
    """Open edX logs the answer and raises on any 4xx/5xx: the test shows the answer."""
    assert response.ok, f"{response.request.method} {response.url}: {response.text}"


@dataclass
class CourseBadgeClass:
    """The fields of Open edX's `BadgeClass` model the backend reads and writes."""

    display_name: str
    description: str
    criteria: str
    image_name: str
    image_path: Path
    badgr_server_slug: str = ""  # the model's default: no badge class on Badgr yet


@dataclass
class OpenEdxBadgrBackend:
    """Open edX's BadgrBackend, reduced to its HTTP calls: `award()` runs
    `_ensure_badge_created` then `_create_assertion`, and every request first asks
    `_get_headers()` for a token (from its cache, refreshed shortly before it expires)."""

    base_url: str
    issuer_slug: str
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    tokens: dict | None = None  # what TieredCache holds under BADGR_TOKENS_CACHE_KEY
    known_slugs: list[str] = field(default_factory=list)  # BadgrBackend.badges

    def _post_token(self, data: dict) -> None:
        response = requests.post(f"{self.base_url}/o/token", data=data, timeout=TIMEOUT)
        grant = data.get("grant_type", "(no grant_type)")
        self.calls.append(("POST", f"/o/token {grant}", response.status_code))
        _log_if_raised(response)
        answer = response.json()
        self.tokens = {
            "access_token": answer["access_token"],
            "refresh_token": answer["refresh_token"],
            "expires_at": datetime.now(UTC) + timedelta(seconds=answer["expires_in"]),
        }

    def _get_access_token(self) -> str:
        if self.tokens is not None and self.tokens["expires_at"] <= datetime.now(UTC) + timedelta(
            seconds=5
        ):
            self._post_token(
                {"grant_type": "refresh_token", "refresh_token": self.tokens["refresh_token"]}
            )
        if self.tokens is None:
            self._post_token({"username": BADGR_USERNAME, "password": PASSWORD})
        return self.tokens["access_token"]

    def _get_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._get_access_token()}"}

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = self._get_headers()
        response = requests.request(
            method, self.base_url + path, headers=headers, timeout=TIMEOUT, **kwargs
        )
        self.calls.append((method, path, response.status_code))
        return response

    def _ensure_badge_created(self, badge_class: CourseBadgeClass) -> None:
        slug = badge_class.badgr_server_slug
        if slug in self.known_slugs:
            return
        response = self._request("GET", f"/v2/badgeclasses/{slug}")
        if response.status_code != 200:
            self._create_badge(badge_class)
        self.known_slugs.append(slug)  # the slug it asked for, as Open edX does

    def _create_badge(self, badge_class: CourseBadgeClass) -> None:
        with badge_class.image_path.open("rb") as image_file:
            response = self._request(
                "POST",
                f"/v2/issuers/{self.issuer_slug}/badgeclasses",
                data={
                    "name": badge_class.display_name,
                    "criteriaUrl": badge_class.criteria,
                    "description": badge_class.description,
                },
                files={"image": (badge_class.image_name, image_file, "image/png")},
            )
        _log_if_raised(response)
        badge_class.badgr_server_slug = response.json()["result"][0].get("entityId")

    def _create_assertion(
        self, badge_class: CourseBadgeClass, email: str, evidence_url: str | None
    ) -> dict:
        data = {
            "recipient": {"identity": email, "type": "email"},
            "evidence": [{"url": evidence_url}],
            "notify": False,  # settings.BADGR_ENABLE_NOTIFICATIONS
        }
        response = self._request(
            "POST", f"/v2/badgeclasses/{badge_class.badgr_server_slug}/assertions", json=data
        )
        _log_if_raised(response)
        assertion = response.json()["result"][0]
        return {"image_url": assertion["image"], "assertion_url": assertion["openBadgeId"]}

    def award(
        self, badge_class: CourseBadgeClass, email: str, evidence_url: str | None = None
    ) -> dict:
        self._ensure_badge_created(badge_class)
        return self._create_assertion(badge_class, email, evidence_url)


@pytest.fixture
def course_badge(tmp_path) -> CourseBadgeClass:
    image = tmp_path / "course-complete.png"
    image.write_bytes(png_bytes((120, 120), "teal"))
    return CourseBadgeClass(
        display_name="Demo Course: Completed",
        description="Completed the Demo Course with a passing grade.",
        criteria="https://courses.example.org/courses/course-v1:edX+Demo+2026/about",
        image_name="course-complete.png",
        image_path=image,
    )


def test_first_award_signs_in_creates_the_badge_class_by_multipart_then_awards(
    live, issuer_slug, course_badge
):
    backend = OpenEdxBadgrBackend(live.base_url, issuer_slug)
    evidence = "https://courses.example.org/certificates/5f2b"
    made = backend.award(course_badge, LEARNER, evidence_url=evidence)
    slug = course_badge.badgr_server_slug
    assert backend.calls == [
        ("POST", "/o/token (no grant_type)", 200),
        ("GET", "/v2/badgeclasses/", 404),  # a new course badge has no slug yet
        ("POST", f"/v2/issuers/{issuer_slug}/badgeclasses", 201),
        ("POST", f"/v2/badgeclasses/{slug}/assertions", 201),
    ]
    assertion = httpx.get(made["assertion_url"], headers={"Accept": "*/*"})
    assert assertion.status_code == 200, assertion.text
    document = assertion.json()
    assert document["id"] == made["assertion_url"]
    assert document["evidence"][0]["id"] == evidence
    image = httpx.get(made["image_url"])
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    badge = httpx.get(document["badge"], headers={"Accept": "*/*"}).json()
    assert badge["name"] == "Demo Course: Completed"
    assert badge["criteria"]["id"] == course_badge.criteria
    assert badge["issuer"].rsplit("/", 1)[-1] == issuer_slug  # the BADGR_ISSUER_SLUG issuer


def test_later_awards_find_the_badge_class_and_refresh_the_token_when_it_expires(
    live, issuer_slug, course_badge
):
    backend = OpenEdxBadgrBackend(live.base_url, issuer_slug)
    backend.award(course_badge, LEARNER, evidence_url="https://courses.example.org/cert/1")
    slug = course_badge.badgr_server_slug
    restarted = OpenEdxBadgrBackend(live.base_url, issuer_slug, tokens=backend.tokens)
    restarted.tokens = {**backend.tokens, "expires_at": datetime.now(UTC)}  # cached, expiring
    made = restarted.award(
        course_badge, "second-learner@example.org", "https://courses.example.org/cert/2"
    )
    assert restarted.calls == [
        ("POST", "/o/token refresh_token", 200),
        ("GET", f"/v2/badgeclasses/{slug}", 200),  # found: no new badge class
        ("POST", f"/v2/badgeclasses/{slug}/assertions", 201),
    ]
    assert restarted.tokens["refresh_token"] != backend.tokens["refresh_token"]
    document = httpx.get(made["assertion_url"], headers={"Accept": "*/*"}).json()
    assert document["recipient"]["type"] == "email"
    with api_client_for(live, "second-learner@example.org") as learner:
        backpack = learner.get("/v2/backpack/assertions").json()["result"]
    assert [b["openBadgeId"] for b in backpack] == [made["assertion_url"]]


def test_an_award_without_evidence_url_is_made_without_evidence(live, issuer_slug, course_badge):
    """Badges for enrolment or completion counts come with no evidence URL, and Open edX
    then sends `evidence: [{"url": null}]`. Badgr's EvidenceItemSerializerV2 refused it, so
    those badges failed there; Laurels reads an item of nulls as "no evidence" and awards
    (an addition). An empty item `{}` is still refused."""
    backend = OpenEdxBadgrBackend(live.base_url, issuer_slug)
    backend.award(course_badge, LEARNER, evidence_url="https://courses.example.org/cert/3")
    slug = course_badge.badgr_server_slug
    made = backend.award(course_badge, "third-learner@example.org")
    assert backend.calls[-1] == ("POST", f"/v2/badgeclasses/{slug}/assertions", 201)
    document = requests.get(made["assertion_url"], timeout=10).json()
    assert "evidence" not in document
    with api_client_for(live, "third-learner@example.org") as learner:
        held = learner.get("/v2/backpack/assertions").json()["result"]
    assert [b["openBadgeId"] for b in held] == [made["assertion_url"]]
