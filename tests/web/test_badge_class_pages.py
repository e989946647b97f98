"""Badge class pages of the issuer workspace (web/badge_class_views.py), with the test
client on the real database: who may do what (the API's roles), defining and changing a
badge class with every field, hostile input (images, alignments, formsets, sizes), the
Markdown preview's sanitizing, deleting, and the queries the list costs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from laurels.issuing import services
from laurels.issuing.models import BadgeClass, IssuerStaff
from tests.factories import (
    AssertionFactory,
    BadgeClassFactory,
    IssuerFactory,
    UserFactory,
    png_bytes,
)

pytestmark = pytest.mark.django_db

SVG_WITH_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b'<script>alert(2)</script><circle r="4" fill="gold"/></svg>'
)


def png(name: str = "badge.png", size=(64, 64)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(size), content_type="image/png")


def issuer_of(user, role: str = "owner", **fields):
    issuer = IssuerFactory(**fields)
    IssuerStaff.objects.create(issuer=issuer, user=user, role=role)
    return issuer


def base(issuer) -> str:
    return f"/issuers/{issuer.entity_id}/badges/"


def detail(badge_class) -> str:
    return f"{base(badge_class.issuer)}{badge_class.entity_id}/"


def form_data(**fields) -> dict:
    """A complete, valid form (one empty alignment row), changed by `fields`."""
    data = {
        "name": "Knot Tying",
        "description": "Ties the **six** knots.",
        "criteria_narrative": "1. Bowline\n2. Clove hitch",
        "criteria_url": "",
        "tags": "sailing, knots",
        "expires_amount": "",
        "expires_duration": "",
        "alignments-TOTAL_FORMS": "1",
        "alignments-INITIAL_FORMS": "0",
        "alignments-MIN_NUM_FORMS": "0",
        "alignments-MAX_NUM_FORMS": "20",
    }
    data.update(fields)
    return data


def page(response) -> str:
    assert response.status_code == 200, (response.status_code, response.content[:2000])
    return response.content.decode()


@pytest.fixture
def issuer(user):
    return issuer_of(user, "owner", name="Harbour College")


# Signed out, other people, roles, methods, CSRF


PATHS = ["", "new/", "B/", "B/edit/", "B/delete/"]


@pytest.mark.parametrize("suffix", PATHS)
def test_anonymous_people_are_sent_to_log_in(client, suffix):
    klass = BadgeClassFactory()
    path = base(klass.issuer) + suffix.replace("B", klass.entity_id)
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login")
    assert client.post("/issuers/markdown-preview", {"criteria_narrative": "x"}).status_code == 302


@pytest.mark.parametrize("suffix", PATHS)
def test_other_peoples_issuers_and_badge_classes_are_not_found(client_logged_in, issuer, suffix):
    theirs = BadgeClassFactory(issuer=IssuerFactory(owner=UserFactory()))
    mine = BadgeClassFactory(issuer=issuer)
    paths = [
        base(theirs.issuer) + suffix.replace("B", theirs.entity_id),
        # my badge class under their issuer's address, theirs under mine, and nonsense
        base(theirs.issuer) + suffix.replace("B", mine.entity_id),
        base(issuer) + suffix.replace("B", theirs.entity_id),
        "/issuers/" + "x" * 5000 + "/badges/" + suffix.replace("B", "y" * 5000),
    ]
    for path in paths:
        if "B" not in suffix and path.startswith(base(issuer)):
            continue  # my own list or form
        assert client_logged_in.get(path).status_code == 404, path
        if suffix not in ("", "B/"):  # GET only: a POST is a 405 before any look-up
            assert client_logged_in.post(path, form_data()).status_code == 404, path
    assert BadgeClass.objects.count() == 2


def test_staff_see_but_do_not_define_change_or_delete(client_logged_in, user):
    issuer = issuer_of(user, "staff")
    klass = BadgeClassFactory(issuer=issuer, name="Rowing")
    listed = page(client_logged_in.get(base(issuer)))
    assert "Rowing" in listed and "New badge class" not in listed
    shown = page(client_logged_in.get(detail(klass)))
    assert ">Award</a>" in shown and ">Awards</a>" in shown
    assert "/edit/" not in shown and "/delete/" not in shown
    for path in (base(issuer) + "new/", detail(klass) + "edit/", detail(klass) + "delete/"):
        assert client_logged_in.get(path).status_code == 403
        assert client_logged_in.post(path, {**form_data(), "image": png()}).status_code == 403
    klass.refresh_from_db()
    assert klass.name == "Rowing" and BadgeClass.objects.count() == 1


@pytest.mark.parametrize("role", ["editor", "owner"])
def test_editors_and_owners_define_change_and_delete(client_logged_in, user, role):
    issuer = issuer_of(user, role)
    response = client_logged_in.post(base(issuer) + "new/", {**form_data(), "image": png()})
    made = BadgeClass.objects.get(issuer=issuer)
    assert response.status_code == 302 and response["Location"] == detail(made)
    shown = page(client_logged_in.get(detail(made)))
    assert f'href="{detail(made)}edit/"' in shown and f'href="{detail(made)}delete/"' in shown
    assert client_logged_in.post(detail(made) + "edit/", form_data(name="Knots")).status_code == 302
    assert client_logged_in.post(detail(made) + "delete/").status_code == 302
    assert not BadgeClass.objects.exists()


def test_writes_need_the_csrf_token(csrf_client_logged_in, issuer):
    klass = BadgeClassFactory(issuer=issuer)
    posts = [
        (base(issuer) + "new/", {**form_data(), "image": png()}),
        (detail(klass) + "edit/", form_data(name="Changed")),
        (detail(klass) + "delete/", {}),
        ("/issuers/markdown-preview", {"criteria_narrative": "x"}),
    ]
    for path, data in posts:
        assert csrf_client_logged_in.post(path, data).status_code == 403
    klass.refresh_from_db()
    assert klass.name != "Changed" and BadgeClass.objects.count() == 1


def test_pages_answer_only_their_methods(client_logged_in, issuer):
    klass = BadgeClassFactory(issuer=issuer)
    assert client_logged_in.post(base(issuer)).status_code == 405
    assert client_logged_in.post(detail(klass)).status_code == 405
    assert client_logged_in.put(detail(klass) + "edit/").status_code == 405
    assert client_logged_in.get("/issuers/markdown-preview").status_code == 405


# The list


def test_the_empty_list_says_what_to_do(client_logged_in, issuer):
    html = page(client_logged_in.get(base(issuer)))
    assert "has no badge classes yet" in html
    assert f'href="{base(issuer)}new/"' in html
    assert 'aria-current="page">Issuing</a>' in html


def test_the_list_shows_images_and_live_award_counts(client_logged_in, issuer):
    klass = BadgeClassFactory(issuer=issuer, name="Rowing")
    AssertionFactory.create_batch(2, badge_class=klass)
    AssertionFactory(badge_class=klass, revoked_for=True)
    AssertionFactory(badge_class=klass, expires=timezone.now() - timedelta(days=1))
    AssertionFactory(badge_class=klass, expires=timezone.now() + timedelta(days=1))
    BadgeClassFactory(issuer=issuer, name="Archery")
    html = page(client_logged_in.get(base(issuer)))
    assert html.index("Archery") < html.index("Rowing")
    assert "3 live awards" in html and "0 live awards" in html
    assert f'src="http://127.0.0.1:8000/public/badges/{klass.entity_id}/image"' in html


def list_queries(client, path: str) -> list[str]:
    """The SQL of a page beyond signing the person in (session, user, second factor)."""
    with CaptureQueriesContext(connection) as captured:
        page(client.get(path))
    sign_in = re.compile(r'FROM "(django_session|accounts_user|otp_\w+)"')
    return [q["sql"] for q in captured.captured_queries if not sign_in.search(q["sql"])]


def test_the_list_costs_the_same_queries_for_few_or_many(
    client_logged_in, issuer, django_assert_max_num_queries
):
    AssertionFactory(badge_class=BadgeClassFactory(issuer=issuer))
    few = list_queries(client_logged_in, base(issuer))
    for _ in range(30):
        AssertionFactory.create_batch(2, badge_class=BadgeClassFactory(issuer=issuer))
    many = list_queries(client_logged_in, base(issuer))
    # the issuer with its staff and the role (one read), and the page of badge classes
    # with their counts
    assert len(few) == len(many) == 2, many
    with django_assert_max_num_queries(8):
        page(client_logged_in.get(base(issuer)))


def test_the_list_pages_by_fifty(client_logged_in, issuer):
    for n in range(51):
        BadgeClassFactory(issuer=issuer, name=f"Badge {n:02}")
    first = page(client_logged_in.get(base(issuer)))
    assert "Badge 49" in first and "Badge 50" not in first and "?page=2" in first
    second = page(client_logged_in.get(base(issuer) + "?page=2"))
    assert "Badge 50" in second and "Badge 00" not in second and "?page=1" in second
    for bad in ("0", "-1", "x", "99999999999999999999", "1.5", "²", "٣"):
        assert client_logged_in.get(base(issuer) + f"?page={bad}").status_code == 400


# Defining one


def test_the_new_form_has_labels_preview_hooks_and_its_policy(client_logged_in, issuer):
    response = client_logged_in.get(base(issuer) + "new/")
    html = page(response)
    for name in ("name", "description", "image", "criteria_narrative", "criteria_url", "tags"):
        assert f'for="id_{name}"' in html
    assert 'data-image-preview="badge-image-preview"' in html
    assert 'accept="image/png,image/svg+xml"' in html and 'id="badge-image-preview"' in html
    assert 'hx-post="/issuers/markdown-preview"' in html
    assert 'enctype="multipart/form-data"' in html
    assert "/static/web/image_preview.js" in html
    policy = response["Content-Security-Policy"]
    assert "img-src 'self'" in policy and "blob:" in policy.split("img-src", 1)[1].split(";")[0]
    assert "blob:" not in client_logged_in.get(base(issuer))["Content-Security-Policy"]


def test_making_one_with_every_field(client_logged_in, user, issuer):
    data = form_data(
        criteria_url="https://harbour.example.org/knots",
        tags=" sailing, knots ,, sailing ",
        expires_amount="2",
        expires_duration="years",
        **{
            "alignments-TOTAL_FORMS": "2",
            "alignments-0-target_name": "Seamanship 1",
            "alignments-0-target_url": "https://standards.example.org/sea/1",
            "alignments-0-target_description": "Knots and lines",
            "alignments-0-target_framework": "RYA",
            "alignments-0-target_code": "S1",
        },
    )
    response = client_logged_in.post(base(issuer) + "new/", {**data, "image": png()})
    assert response.status_code == 302
    made = BadgeClass.objects.get(issuer=issuer)
    assert (made.name, made.created_by) == ("Knot Tying", user)
    assert made.tags == ["sailing", "knots"]
    assert (made.expires_amount, made.expires_duration) == (2, "years")
    assert made.criteria_url == "https://harbour.example.org/knots"
    assert made.alignments == [
        {
            "targetName": "Seamanship 1",
            "targetUrl": "https://standards.example.org/sea/1",
            "targetDescription": "Knots and lines",
            "targetFramework": "RYA",
            "targetCode": "S1",
        }
    ]
    assert made.image.name.endswith(".png")
    html = page(client_logged_in.get(detail(made)))
    assert "<strong>six</strong>" in html and "<li>Bowline</li>" in html
    assert "Awards expire 2 years after they are issued" in html
    assert 'href="https://standards.example.org/sea/1"' in html and "RYA · S1" in html
    assert f'href="http://127.0.0.1:8000/public/badges/{made.entity_id}"' in html
    for link in ("award/", "award/csv/", "awards/"):
        assert f'href="{detail(made)}{link}"' in html


def test_an_svg_is_cleaned_as_the_api_cleans_it(client_logged_in, issuer):
    svg = SimpleUploadedFile("b.svg", SVG_WITH_SCRIPT, content_type="image/svg+xml")
    response = client_logged_in.post(base(issuer) + "new/", {**form_data(), "image": svg})
    assert response.status_code == 302
    made = BadgeClass.objects.get(issuer=issuer)
    assert made.image.name.endswith(".svg")
    stored = made.image.read()
    assert b"<circle" in stored
    assert b"script" not in stored and b"onload" not in stored and b"alert" not in stored


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (None, "This field is required."),
        (SimpleUploadedFile("a.txt", b"just words", content_type="text/plain"), "PNG or an SVG"),
        (SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\nbroken", content_type="image/png"), ""),
        (SimpleUploadedFile("a.svg", b"<svg><unclosed", content_type="image/svg+xml"), ""),
    ],
)
def test_a_missing_or_bad_image_is_a_400_tied_to_the_field(
    client_logged_in, issuer, image, message
):
    data = form_data() if image is None else {**form_data(), "image": image}
    response = client_logged_in.post(base(issuer) + "new/", data)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_image-errors"' in html and message in html
    assert 'href="#id_image"' in html  # the error summary points at the field
    assert not BadgeClass.objects.exists()


@override_settings(LAURELS_IMAGE_MAX_BYTES=4096)
def test_a_huge_image_is_refused_without_being_read_whole(client_logged_in, issuer):
    big = SimpleUploadedFile("big.png", png_bytes((900, 900), "red") + b"\0" * 8192)
    response = client_logged_in.post(base(issuer) + "new/", {**form_data(), "image": big})
    assert response.status_code == 400
    assert "larger than 4 KB" in response.content.decode()
    assert not BadgeClass.objects.exists()


def test_a_pixel_bomb_png_is_refused(client_logged_in, issuer):
    bomb = SimpleUploadedFile("bomb.png", png_bytes((12_000, 12_000), "white"))
    response = client_logged_in.post(base(issuer) + "new/", {**form_data(), "image": bomb})
    assert response.status_code == 400
    assert not BadgeClass.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field_id"),
    [
        ({"name": ""}, "id_name"),
        ({"name": "x" * 256}, "id_name"),
        ({"description": ""}, "id_description"),
        ({"description": "d" * 10_001}, "id_description"),
        ({"criteria_narrative": "c" * 20_001}, "id_criteria_narrative"),
        ({"criteria_url": "javascript:alert(1)"}, "id_criteria_url"),
        ({"criteria_url": "ftp://example.org/x"}, "id_criteria_url"),
        ({"tags": ",".join(f"t{n}" for n in range(51))}, "id_tags"),
        ({"tags": "x" * 101}, "id_tags"),
        ({"expires_amount": "3"}, "id_expires_amount"),
        ({"expires_duration": "days"}, "id_expires_amount"),
        ({"expires_amount": "0", "expires_duration": "days"}, "id_expires_amount"),
        ({"expires_amount": "101", "expires_duration": "years"}, "id_expires_amount"),
        ({"expires_amount": "99999999999", "expires_duration": "days"}, "id_expires_amount"),
        ({"expires_amount": "2", "expires_duration": "fortnights"}, "id_expires_duration"),
        ({"alignments-0-target_url": "https://example.org/a"}, "id_alignments-0-target_name"),
        (
            {"alignments-0-target_name": "A", "alignments-0-target_url": "javascript:alert(1)"},
            "id_alignments-0-target_url",
        ),
        (
            {"alignments-0-target_name": "A", "alignments-0-target_url": "data:text/html,x"},
            "id_alignments-0-target_url",
        ),
        ({"alignments-0-target_name": "n" * 256}, "id_alignments-0-target_name"),
    ],
)
def test_bad_input_is_a_400_tied_to_its_field(client_logged_in, issuer, fields, field_id):
    response = client_logged_in.post(base(issuer) + "new/", {**form_data(**fields), "image": png()})
    html = response.content.decode()
    assert response.status_code == 400
    assert f'id="{field_id}-errors"' in html, html[:3000]
    assert f'href="#{field_id}"' in html
    assert not BadgeClass.objects.exists()


@pytest.mark.parametrize(
    "management",
    [
        {"alignments-TOTAL_FORMS": None},
        {"alignments-TOTAL_FORMS": "x"},
        {"alignments-TOTAL_FORMS": "1000000"},
        {"alignments-TOTAL_FORMS": "21"},
    ],
)
def test_a_forged_alignment_formset_is_a_400(client_logged_in, issuer, management):
    data = {**form_data(), "image": png()}
    for key, value in management.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    response = client_logged_in.post(base(issuer) + "new/", data)
    assert response.status_code == 400
    assert not BadgeClass.objects.exists()


def test_adding_an_alignment_row_saves_nothing_and_keeps_what_was_typed(client_logged_in, issuer):
    data = form_data(
        name="Kept name",
        **{"alignments-0-target_name": "First row", "action": "add_alignment"},
    )
    response = client_logged_in.post(base(issuer) + "new/", {**data, "image": png()})
    html = page(response)
    assert not BadgeClass.objects.exists()
    assert 'value="Kept name"' in html and 'value="First row"' in html
    assert 'name="alignments-1-target_name"' in html and 'name="alignments-2-' not in html
    assert 'name="alignments-TOTAL_FORMS" value="2"' in html
    assert "Choose the image again" in html
    assert "aria-invalid" not in html


# Changing one


def test_the_edit_form_shows_what_is_kept_and_saving_keeps_the_image(client_logged_in, issuer):
    klass = services.badge_class_create(
        issuer=issuer,
        actor=issuer.staff.first().user,
        name="Rowing",
        description="Rows.",
        image=_checked_png(),
        tags=["water"],
        alignments=[{"targetName": "Oars", "targetUrl": "https://example.org/oars"}],
        expires_amount=6,
        expires_duration="months",
    )
    old_image = klass.image.name
    html = page(client_logged_in.get(detail(klass) + "edit/"))
    assert 'value="Rowing"' in html and 'value="water"' in html and 'value="Oars"' in html
    assert 'value="6"' in html and '<option value="months" selected>' in html
    assert f'src="http://127.0.0.1:8000/public/badges/{klass.entity_id}/image"' in html
    assert 'name="alignments-1-target_name"' in html  # one empty row to add another
    data = form_data(
        name="Rowing 2",
        description="Rows well.",
        tags="",
        **{"alignments-TOTAL_FORMS": "2", "alignments-INITIAL_FORMS": "2"},
    )
    response = client_logged_in.post(detail(klass) + "edit/", data)
    assert response.status_code == 302 and response["Location"] == detail(klass)
    klass.refresh_from_db()
    assert (klass.name, klass.description, klass.tags) == ("Rowing 2", "Rows well.", [])
    assert klass.alignments == [] and klass.expires_amount is None and not klass.expires_duration
    assert klass.image.name == old_image


def _checked_png():
    from laurels.core.images import image_from_upload

    return image_from_upload(png_bytes())


def test_a_new_image_replaces_the_old_one(client_logged_in, issuer):
    klass = BadgeClassFactory(issuer=issuer)
    svg = SimpleUploadedFile("b.svg", SVG_WITH_SCRIPT, content_type="image/svg+xml")
    response = client_logged_in.post(detail(klass) + "edit/", {**form_data(), "image": svg})
    assert response.status_code == 302
    klass.refresh_from_db()
    assert klass.image.name.endswith(".svg") and b"script" not in klass.image.read()


def test_a_refused_edit_changes_nothing(client_logged_in, issuer):
    klass = BadgeClassFactory(issuer=issuer, name="Rowing")
    data = form_data(name="Changed", expires_amount="40000", expires_duration="days")
    assert client_logged_in.post(detail(klass) + "edit/", data).status_code == 400
    klass.refresh_from_db()
    assert klass.name == "Rowing"


# The detail page


def test_the_detail_page_counts_awards(client_logged_in, issuer):
    klass = BadgeClassFactory(issuer=issuer, criteria_narrative="", criteria_url="")
    AssertionFactory.create_batch(2, badge_class=klass)
    AssertionFactory(badge_class=klass, acceptance="Accepted")
    AssertionFactory(badge_class=klass, revoked_for=True)
    AssertionFactory(badge_class=klass, expires=timezone.now() - timedelta(days=1))
    html = page(client_logged_in.get(detail(klass)))
    counts = html.split('class="facts counts"', 1)[1].split("</dl>", 1)[0]
    assert re.findall(r"<dd>(\d+)</dd>", counts) == ["3", "1", "1", "1"]
    assert "No criteria given" in html
    assert "Awards never expire" in html


def test_markup_in_a_badge_class_is_shown_safely(client_logged_in, issuer):
    klass = BadgeClassFactory(
        issuer=issuer,
        name="<script>alert(1)</script>",
        description="<script>alert(2)</script><img src=x onerror=alert(3)>",
        tags=["<b>t</b>"],
        alignments=[{"targetName": "<i>x</i>", "targetUrl": "javascript:alert(4)"}],
    )
    html = page(client_logged_in.get(detail(klass)))
    assert "<script>alert" not in html and "onerror" not in html
    assert "javascript:" not in html and "<b>t</b>" not in html and "<i>x</i>" not in html


# Deleting


def test_deleting_asks_first_then_deletes(client_logged_in, issuer):
    klass = BadgeClassFactory(issuer=issuer, name="Rowing")
    AssertionFactory(badge_class=klass, revoked_for=True)
    html = page(client_logged_in.get(detail(klass) + "delete/"))
    assert "Delete “Rowing”?" in html
    response = client_logged_in.post(detail(klass) + "delete/")
    assert response.status_code == 302 and response["Location"] == base(issuer)
    assert not BadgeClass.objects.exists()
    assert "Deleted the badge class “Rowing”." in page(client_logged_in.get(base(issuer)))


def test_a_badge_class_with_live_awards_is_not_deleted(client_logged_in, issuer):
    klass = BadgeClassFactory(issuer=issuer)
    AssertionFactory(badge_class=klass)
    response = client_logged_in.post(detail(klass) + "delete/")
    assert response.status_code == 409
    html = response.content.decode()
    assert "has live awards" in html and 'role="alert"' in html
    assert BadgeClass.objects.filter(pk=klass.pk).exists()


# The Markdown preview


def test_the_preview_renders_markdown_and_strips_scripts(client_logged_in):
    text = "**Bold** [link](https://example.org)\n\n<script>alert(1)</script>"
    text += '<img src=x onerror="alert(2)"> [x](javascript:alert(3))'
    response = client_logged_in.post("/issuers/markdown-preview", {"criteria_narrative": text})
    html = page(response)
    assert "<strong>Bold</strong>" in html and 'href="https://example.org"' in html
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html


def test_the_preview_of_nothing_says_so_and_too_much_is_a_400(client_logged_in):
    empty = page(client_logged_in.post("/issuers/markdown-preview", {}))
    assert "Nothing to preview yet" in empty
    response = client_logged_in.post(
        "/issuers/markdown-preview", {"criteria_narrative": "x" * 20_001}
    )
    assert response.status_code == 400 and "Too long to preview" in response.content.decode()
