"""Award pages: one award, a CSV checked then awarded as a batch, its progress (htmx
polling) and results; permissions as the API's award action."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from laurels.issuing.models import Assertion, AwardBatch, AwardBatchStatus, IssuerStaff
from laurels.jobs.runner import drain
from tests.factories import AssertionFactory, BadgeClassFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def badge_class(user):
    made = BadgeClassFactory(name="Knot Tying")
    IssuerStaff.objects.create(issuer=made.issuer, user=user, role="staff")
    return made


def base(badge_class) -> str:
    return f"/issuers/{badge_class.issuer.entity_id}/badges/{badge_class.entity_id}"


def upload(client, badge_class, data: bytes, **fields):
    file = SimpleUploadedFile("awards.csv", data, content_type="text/csv")
    form = {"file": file, "recipient_type": "email", "refuse_duplicates": "on", **fields}
    return client.post(f"{base(badge_class)}/award/csv/", form)


def test_signed_out_goes_to_log_in_and_others_get_404(badge_class):
    anonymous = Client()
    for path in ("/award/", "/award/csv/"):
        answer = anonymous.get(base(badge_class) + path)
        assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]
    outsider = Client()
    outsider.force_login(UserFactory())
    assert outsider.get(base(badge_class) + "/award/").status_code == 404
    assert outsider.get(base(badge_class) + "/award/csv/").status_code == 404
    other = BadgeClassFactory()  # a badge class under another issuer's address
    wrong = f"/issuers/{badge_class.issuer.entity_id}/badges/{other.entity_id}/award/"
    assert outsider.get(wrong).status_code == 404


def test_single_award(client_logged_in, badge_class, user):
    page = client_logged_in.get(base(badge_class) + "/award/")
    assert page.status_code == 200 and b"Award Knot Tying" in page.content
    answer = client_logged_in.post(
        base(badge_class) + "/award/",
        {
            "recipient_type": "email",
            "identity": " Sam@Example.org ",
            "name": "Sam",
            "narrative": "Tied **many** knots.",
            "evidence_url_1": "https://e.example.org/knots",
            "evidence_narrative_2": "Watched in person.",
            "issued_on": "2024-05-01",
            "notify": "on",
        },
    )
    award = Assertion.objects.get()
    assert answer.status_code == 302 and answer["Location"].endswith(award.entity_id)
    assert award.recipient_plaintext == "sam@example.org" and award.created_by == user
    assert award.evidence == [
        {"url": "https://e.example.org/knots"},
        {"narrative": "Watched in person."},
    ]
    assert award.issued_on.date().isoformat() == "2024-05-01"


def test_single_award_refusals_are_400_on_the_field(client_logged_in, badge_class):
    url = base(badge_class) + "/award/"
    bad = client_logged_in.post(url, {"recipient_type": "email", "identity": "nope"})
    assert bad.status_code == 400 and b"nope is not a valid email identity" in bad.content
    assert b'aria-invalid="true"' in bad.content
    odd = client_logged_in.post(url, {"recipient_type": "fax", "identity": "x"})
    assert odd.status_code == 400
    evidence = client_logged_in.post(
        url,
        {"recipient_type": "email", "identity": "a@example.org", "evidence_url_1": "javascript:x"},
    )
    assert evidence.status_code == 400 and b"is not a valid URL" in evidence.content
    old = client_logged_in.post(
        url, {"recipient_type": "email", "identity": "a@example.org", "issued_on": "1800-01-01"}
    )
    assert old.status_code == 400
    AssertionFactory(badge_class=badge_class, recipient_plaintext="held@example.org")
    twice = client_logged_in.post(
        url, {"recipient_type": "email", "identity": "held@example.org", "refuse_duplicates": "on"}
    )
    assert twice.status_code == 400 and b"already holds" in twice.content
    assert Assertion.objects.count() == 1


def test_csrf_is_required(csrf_client_logged_in, badge_class):
    answer = csrf_client_logged_in.post(
        base(badge_class) + "/award/", {"recipient_type": "email", "identity": "a@example.org"}
    )
    assert answer.status_code == 403 and not Assertion.objects.exists()


def test_a_bad_file_lists_every_problem_by_line_and_keeps_nothing(client_logged_in, badge_class):
    data = b"identity,name\n" + b"".join(f"p{n}@example.org\n".encode() for n in range(20))
    data += b"not-an-address\nfine@example.org\np3@example.org\n"
    answer = upload(client_logged_in, badge_class, data)
    assert answer.status_code == 400
    text = answer.content.decode()
    assert "Line 22: not-an-address is not a valid email identity." in text
    assert "Line 24: p3@example.org appears more than once in the file." in text
    assert "The first 10 of 23 rows" in text
    assert not AwardBatch.objects.exists() and not Assertion.objects.exists()
    for hostile in (b"\xff\xfe\x00bad", b"", b"a@example.org\x00\n"):
        assert upload(client_logged_in, badge_class, hostile).status_code == 400
    assert not AwardBatch.objects.exists()


def test_a_file_too_big_is_refused(client_logged_in, badge_class):
    answer = upload(client_logged_in, badge_class, b"a" * (5 * 1024 * 1024 + 1))
    assert answer.status_code == 400 and b"larger than 5 MB" in answer.content


def test_a_body_declared_past_the_request_cap_is_refused_unread(
    client_logged_in, badge_class, settings
):
    """Django streams a form's files to disk whatever their size: the cap is checked on
    the declared length first, on pages as on the API."""
    url = f"{base(badge_class)}/award/csv/"
    too_big = str(settings.LAURELS_MAX_REQUEST_BYTES + 1)
    for length, status in ((too_big, 413), ("²", 400), ("-1", 400)):
        answer = client_logged_in.generic(
            "POST", url, b"x", content_type="multipart/form-data; boundary=b", CONTENT_LENGTH=length
        )
        assert answer.status_code == status, length
    assert not AwardBatch.objects.exists()


def test_a_clean_file_is_awarded_with_progress_and_results(
    client_logged_in, badge_class, django_assert_max_num_queries
):
    data = b"".join(f"p{n}@example.org,P {n}\n".encode() for n in range(150))
    answer = upload(client_logged_in, badge_class, data)
    batch = AwardBatch.objects.get()
    page_url = f"/issuers/{badge_class.issuer.entity_id}/batches/{batch.entity_id}/"
    assert answer.status_code == 302 and answer["Location"] == page_url
    ready = client_logged_in.get(page_url)
    assert b"Award 150 people" in ready.content and b"p9@example.org" in ready.content
    assert not Assertion.objects.exists()

    assert client_logged_in.post(page_url, {"notify": "on"}).status_code == 302
    batch.refresh_from_db()
    assert batch.status == AwardBatchStatus.QUEUED and batch.notify
    waiting = client_logged_in.get(page_url)
    assert b'hx-trigger="every 1s"' in waiting.content and b"Waiting to start" in waiting.content
    # The polled part is no live region (read out every second); the end is announced once.
    assert b'id="batch-announce" class="visually-hidden" role="status"></p>' in waiting.content
    assert b"aria-live" not in waiting.content
    with django_assert_max_num_queries(8):
        poll = client_logged_in.get(page_url, headers={"HX-Request": "true"})
    assert poll.status_code == 200 and b"<progress" in poll.content
    # Started twice (a second tab): nothing more is queued.
    client_logged_in.post(page_url, {})
    drain("runner-a")

    with django_assert_max_num_queries(8):
        done = client_logged_in.get(page_url, headers={"HX-Request": "true"})
    assert done.status_code == 286  # htmx stops polling
    assert b"150 awarded" in done.content and b"(100 %)" in done.content
    assert b'hx-swap-oob="true">Done: 150 awarded.</p>' in done.content
    page = client_logged_in.get(page_url)
    assert b"hx-swap-oob" not in page.content
    assert b"hx-trigger" not in page.content and b"Next" in page.content
    second = client_logged_in.get(page_url + "?page=2")
    assert b"p149@example.org" in second.content
    assert client_logged_in.get(page_url + "?page=3").status_code == 400
    for bad in ("x", "²", "٢", "99999999999999999999"):
        assert client_logged_in.get(page_url + f"?page={bad}").status_code == 400
    results = client_logged_in.get(page_url + "results.csv")
    assert results["Content-Type"].startswith("text/csv")
    lines = results.content.decode().splitlines()
    assert lines[0] == "line,identity,status,award URL or error"
    assert len(lines) == 151 and lines[1].startswith("1,p0@example.org,awarded,http")
    assert Assertion.objects.filter(badge_class=badge_class).count() == 150


def test_results_csv_cells_are_not_formulas(client_logged_in, badge_class):
    upload(client_logged_in, badge_class, b"https://x.example.org/=cmd\n", recipient_type="url")
    batch = AwardBatch.objects.get()
    batch.results = [[1, "=HYPERLINK()", "", "-bad"]]
    batch.status = AwardBatchStatus.DONE
    batch.save()
    url = f"/issuers/{badge_class.issuer.entity_id}/batches/{batch.entity_id}/results.csv"
    text = client_logged_in.get(url).content.decode()
    assert "'=HYPERLINK()" in text and "'-bad" in text


def test_batches_are_seen_by_members_allowed_to_award_only(client_logged_in, badge_class):
    upload(client_logged_in, badge_class, b"a@example.org\n")
    batch = AwardBatch.objects.get()
    page_url = f"/issuers/{badge_class.issuer.entity_id}/batches/{batch.entity_id}/"
    outsider = Client()
    outsider.force_login(UserFactory())
    assert outsider.get(page_url).status_code == 404
    assert outsider.get(page_url + "results.csv").status_code == 404
    assert outsider.post(page_url, {}).status_code == 404
    other = BadgeClassFactory()
    IssuerStaff.objects.create(issuer=other.issuer, user=outsider_user(outsider), role="owner")
    assert (
        outsider.get(f"/issuers/{other.issuer.entity_id}/batches/{batch.entity_id}/").status_code
        == 404
    )
    assert Client().get(page_url).status_code == 302
    editor = UserFactory()
    IssuerStaff.objects.create(issuer=badge_class.issuer, user=editor, role="editor")
    colleague = Client()
    colleague.force_login(editor)
    assert colleague.get(page_url).status_code == 200


def outsider_user(client: Client):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=client.session["_auth_user_id"])
