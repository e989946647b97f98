"""Every /v2 answer is in the envelope, whatever goes wrong and wherever."""

import json

import pytest
from django.test import Client

from laurels.accounts import selectors

pytestmark = pytest.mark.django_db


def assert_error_envelope(response, status, description=None):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"]["success"] is False
    assert body["result"] == []
    assert set(body) == {"status", "result", "validationErrors", "fieldErrors"}
    if description is not None:
        assert body["status"]["description"] == description
    return body


def test_401_without_credentials(client):
    response = client.get("/v2/users/self")
    assert_error_envelope(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_401_for_an_inactive_user(user, client_logged_in):
    user.is_active = False
    user.save()
    assert_error_envelope(client_logged_in.get("/v2/users/self"), 401)


def test_404_for_an_unknown_path(client_logged_in):
    assert_error_envelope(client_logged_in.get("/v2/no/such/thing"), 404, "Not Found.")


def test_404_before_authentication_too(client):
    assert_error_envelope(client.get("/v2/no/such/thing"), 404)


def test_405_keeps_the_allow_header(client_logged_in):
    response = client_logged_in.delete("/v2/users/self")
    assert_error_envelope(response, 405, "Method Not Allowed.")
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "PUT"}


def test_415_for_a_body_that_is_not_json(client_logged_in):
    response = client_logged_in.put("/v2/users/self", "firstName=x", content_type="text/plain")
    body = assert_error_envelope(response, 415)
    assert "application/json" in body["status"]["description"]


def test_413_for_a_body_over_the_cap(client_logged_in, settings):
    settings.LAURELS_MAX_REQUEST_BYTES = 2048
    payload = json.dumps({"firstName": "x" * 4096})
    response = client_logged_in.put("/v2/users/self", payload, content_type="application/json")
    assert_error_envelope(response, 413)


def test_400_for_a_malformed_json_body(client_logged_in):
    response = client_logged_in.put("/v2/users/self", "{not json", content_type="application/json")
    assert_error_envelope(response, 400)


def test_400_with_field_errors_for_invalid_fields(client_logged_in, user):
    response = client_logged_in.put(
        "/v2/users/self", {"firstName": "x" * 151, "lastName": 5}, content_type="application/json"
    )
    body = assert_error_envelope(response, 400, "Invalid input.")
    assert set(body["fieldErrors"]) == {"firstName", "lastName"}
    assert all(body["fieldErrors"][name] for name in body["fieldErrors"])
    user.refresh_from_db()
    assert user.first_name == "Ada"  # nothing half-written


def test_400_for_a_body_that_is_not_an_object(client_logged_in):
    response = client_logged_in.put("/v2/users/self", "[1, 2]", content_type="application/json")
    assert_error_envelope(response, 400)


def test_403_for_a_session_write_without_csrf_token(csrf_client_logged_in, user):
    response = csrf_client_logged_in.put(
        "/v2/users/self", {"firstName": "Eve"}, content_type="application/json"
    )
    assert_error_envelope(response, 403)
    user.refresh_from_db()
    assert user.first_name == "Ada"


def test_session_write_with_csrf_token_passes(csrf_client_logged_in):
    csrf_client_logged_in.get("/")  # sets the csrftoken cookie like a page load does
    token = csrf_client_logged_in.cookies["csrftoken"].value
    response = csrf_client_logged_in.put(
        "/v2/users/self",
        {"firstName": "Grace"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert response.json()["result"][0]["firstName"] == "Grace"


def test_500_is_in_the_envelope_and_hides_the_details(user, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "user_profile", broken)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    response = client.get("/v2/users/self")
    body = assert_error_envelope(response, 500, "Internal server error.")
    assert "secret internals" not in json.dumps(body)
    assert "secret internals" in caplog.text  # but it is logged for the operator


def test_pages_outside_v2_are_not_enveloped(client):
    response = client.get("/accounts/login/")
    assert response["Content-Type"].startswith("text/html")
