"""The whole sign-up story against a real `laurels serve`, as a person would live it:
sign up in the form, find the verification email on the server's console, open the
link and confirm with the sign-up's password, log in, and see yourself through the /v2
API."""

import re
import time

import httpx
import pytest

from tests.servers import laurels_server

pytestmark = pytest.mark.server


def csrf_token(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_signup_console_email_verify_login_api(tmp_path):
    with (
        laurels_server(tmp_path / "var") as server,
        httpx.Client(base_url=server.base_url) as browser,
    ):
        token = csrf_token(browser, "/accounts/signup/")
        signed_up = browser.post(
            "/accounts/signup/",
            data={
                "csrfmiddlewaretoken": token,
                "email": "Nova@Example.org",
                "first_name": "Nova",
                "last_name": "Reyes",
                "password1": "a sturdy passphrase",
                "password2": "a sturdy passphrase",
            },
        )
        assert signed_up.status_code == 200, signed_up.text
        assert "Check your inbox" in signed_up.text

        link = wait_for(
            lambda: re.search(rf"{re.escape(server.base_url)}/accounts/verify/\S+/", server.log())
        ).group(0)
        assert "To: nova@example.org" in server.log()
        # The link asks for the password chosen at sign-up (one click verifies nothing).
        verified = browser.post(
            link,
            data={
                "csrfmiddlewaretoken": csrf_token(browser, link),
                "password": "a sturdy passphrase",
            },
        )
        assert verified.status_code == 200 and "is verified" in verified.text

        token = csrf_token(browser, "/accounts/login/")
        logged_in = browser.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": token,
                "username": "nova@example.org",
                "password": "a sturdy passphrase",
            },
        )
        assert logged_in.status_code == 302

        body = browser.get("/v2/users/self").json()
        assert body["status"]["success"] is True
        me = body["result"][0]
        assert (me["firstName"], me["lastName"]) == ("Nova", "Reyes")
        assert me["emails"] == [
            {"email": "nova@example.org", "verified": True, "primary": True, "caseVariants": []}
        ]
