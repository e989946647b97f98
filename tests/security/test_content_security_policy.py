"""Content-Security-Policy on every HTML page of a live server, and proof in Chromium that
it is enforced: an inline script is refused, the consent page's form may follow the
redirect to the app's registered origin (and no other), the admin and /docs still work.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from tests.httpstub import RecordingServer
from tests.servers import PASSWORD, RunningServer, issuer_with_badge, laurels_cli

pytestmark = pytest.mark.server

ADMIN = "csp-admin@example.org"
EARNER = "csp-earner@example.org"
SELF = "'self'"
NONE = "'none'"


# --- helpers ---------------------------------------------------------------------------------


def policy_of(response: httpx.Response) -> dict[str, list[str]]:
    """The enforced Content-Security-Policy, as {directive: [source, ...]}."""
    header = response.headers.get("content-security-policy")
    assert header, f"{response.request.url} has no Content-Security-Policy"
    policy: dict[str, list[str]] = {}
    for directive in header.split(";"):
        name, *sources = directive.split()
        assert name.lower() not in policy, f"{name} twice in {header}"
        policy[name.lower()] = sources
    return policy


def assert_html_policy(
    response: httpx.Response, *, form_action: tuple[str, ...] = (SELF,)
) -> dict[str, list[str]]:
    """The HTML policy: scripts only from this server, never inline or eval; no plugins,
    no <base>, no framing, forms post only where the route allows."""
    assert response.headers["content-type"].startswith("text/html"), response.request.url
    policy = policy_of(response)
    assert policy["default-src"] == [SELF]
    assert policy["script-src"] == [SELF], response.request.url
    assert policy["object-src"] == [NONE]
    assert policy["base-uri"] in ([NONE], [SELF])
    assert policy["frame-ancestors"] == [NONE]
    assert policy["form-action"] == list(form_action), response.request.url
    for sources in policy.values():
        assert "'unsafe-eval'" not in sources
        assert "*" not in sources
    return policy


@contextlib.contextmanager
def logged_in(live: RunningServer, email: str) -> Iterator[httpx.Client]:
    """A person's browser session (cookies), logged in through the log-in form."""
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        page = client.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        done = client.post(
            "/accounts/login/",
            data={"csrfmiddlewaretoken": token, "username": email, "password": PASSWORD},
        )
        assert done.status_code == 302, done.text[:300]
        yield client


@pytest.fixture(scope="module")
def client_app() -> Iterator[RecordingServer]:
    """The connected app's own web server: another origin (another port) than Laurels."""
    server = RecordingServer("127.0.0.1", {})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def registered(live, client_app) -> dict:
    made = laurels_cli(
        live,
        "apps",
        "create",
        "--name",
        "Elsewhere App",
        "--redirect-uri",
        f"{client_app.url}/callback",
        "--scopes",
        "r:profile",
        "--logo-url",
        f"{client_app.url}/logo.png",
        "--testing",
        "--json",
    )
    return json.loads(made)


def consent_url(registered: dict, redirect_uri: str, state: str = "s1") -> str:
    query = {
        "response_type": "code",
        "client_id": registered["client_id"],
        "redirect_uri": redirect_uri,
        "scope": "r:profile",
        "state": state,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGjSwT0bqA",
        "code_challenge_method": "S256",
    }
    return "/o/authorize?" + urlencode(query)


@pytest.fixture(scope="module")
def public_pages(live, account) -> dict[str, str]:
    """Paths of the public pages of an issuer, a badge, an award and a shared collection."""
    api = account(EARNER)
    issuer, badge = issuer_with_badge(api, "Policy College")
    award = api.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions",
        json={"recipient": {"identity": EARNER}},
    ).json()["result"][0]
    collection = api.post(
        "/v2/backpack/collections",
        json={"name": "Shown", "published": True, "assertions": [award["entityId"]]},
    ).json()["result"][0]
    return {
        "issuer": f"/public/issuers/{issuer['entityId']}",
        "badge": f"/public/badges/{badge['entityId']}",
        "assertion": f"/public/assertions/{award['entityId']}",
        "collection": collection["shareUrl"].removeprefix(live.base_url),
    }


@pytest.fixture(scope="module")
def admin(live) -> Iterator[httpx.Client]:
    laurels_cli(live, "createuser", ADMIN, "--password", PASSWORD, "--admin")
    with logged_in(live, ADMIN) as client:
        yield client


# --- every HTML route carries the policy ---------------------------------------------------


ANONYMOUS_PAGES = [
    "/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/verify/resend/",
    "/accounts/verify/not-a-token/",
    "/accounts/password/reset/",
    "/accounts/password/reset/sent/",
    "/accounts/password/reset/MQ/not-a-token/",
    "/accounts/password/reset/done/",
    "/share/collections/not-shared",
    "/admin/login/",
    "/docs/oauth2-redirect",
    "/no-such-page",
    "/public/badges/no-such-badge",
]


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_every_anonymous_page_carries_the_policy(live, path):
    assert_html_policy(httpx.get(live.base_url + path))


def test_public_and_share_pages_carry_the_policy(live, public_pages):
    for path in public_pages.values():
        page = httpx.get(live.base_url + path, headers={"Accept": "text/html"})
        assert page.status_code == 200, path
        assert_html_policy(page)


def test_pages_of_a_logged_in_person_carry_the_policy(live, account, registered):
    account(EARNER)
    with logged_in(live, EARNER) as browser:
        for path in (
            "/",
            "/account/apps/",
            "/account/invitations/",
            "/accounts/password/change/",
            "/o/authorize?client_id=no-such-app",
        ):
            assert_html_policy(browser.get(path))


def test_admin_pages_carry_the_policy(admin):
    for path in ("/admin/", "/admin/accounts/user/", "/admin/connect/application/add/"):
        page = admin.get(path)
        assert page.status_code == 200, path
        assert_html_policy(page)


def test_docs_open_only_data_images(live):
    docs = assert_html_policy(httpx.get(f"{live.base_url}/docs"))
    assert docs["img-src"] == [SELF, live.base_url, "data:"]
    assert docs["style-src"] == [SELF]
    login = assert_html_policy(httpx.get(f"{live.base_url}/accounts/login/"))
    assert login["img-src"] == [SELF, live.base_url]


def test_image_answers_keep_their_own_sandboxed_policy(live, public_pages):
    image = httpx.get(live.base_url + public_pages["badge"] + "/image")
    assert image.headers["content-type"] == "image/png"
    policy = policy_of(image)
    assert policy["default-src"] == [NONE]
    assert "sandbox" in policy
    assert "script-src" not in policy


# --- the consent page: form-action opens to the validated redirect URI only ----------------


def test_consent_page_lets_its_form_reach_the_registered_redirect_origin(
    live, account, registered, client_app
):
    account(EARNER)
    with logged_in(live, EARNER) as browser:
        consent = browser.get(consent_url(registered, f"{client_app.url}/callback"))
        assert "wants to connect to your account" in consent.text
        policy = assert_html_policy(consent, form_action=(SELF, client_app.url))
        assert policy["img-src"] == [SELF, live.base_url, client_app.url]  # the app's logo


def test_log_in_page_lets_its_form_reach_the_app_the_next_step_redirects_to(
    live, registered, client_app
):
    """Log-in, then an authorization request for an app already approved: the log-in
    form's answer redirects through /o/authorize straight on to the app."""
    next_url = consent_url(registered, f"{client_app.url}/callback")
    login = httpx.get(f"{live.base_url}/accounts/login/", params={"next": next_url})
    assert_html_policy(login, form_action=(SELF, client_app.url))


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        "http://127.0.0.1:1/callback",
        "https://evil.example/callback; script-src *",
    ],
)
def test_consent_page_never_opens_form_action_to_an_unregistered_uri(
    live, account, registered, redirect_uri
):
    account(EARNER)
    with logged_in(live, EARNER) as browser:
        refused = browser.get(consent_url(registered, redirect_uri))
        assert "wants to connect" not in refused.text
        assert_html_policy(refused)
    login = httpx.get(
        f"{live.base_url}/accounts/login/",
        params={"next": consent_url(registered, redirect_uri)},
    )
    assert_html_policy(login)


# --- in Chromium -------------------------------------------------------------------------------


def csp_violations(messages: list[str]) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m]


def log_in_in_browser(page, live: RunningServer, email: str) -> None:
    page.goto(f"{live.base_url}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live.base_url}/")


@pytest.mark.browser
def test_chromium_approves_and_follows_the_redirect_to_another_origin(
    live, account, registered, client_app, chromium
):
    account(EARNER)
    context = chromium.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    log_in_in_browser(page, live, EARNER)

    page.goto(live.base_url + consent_url(registered, f"{client_app.url}/callback", "s-chrome"))
    page.wait_for_selector("text=wants to connect to your account")
    page.click("button[name=allow]")
    page.wait_for_url(f"{client_app.url}/callback?**", timeout=20_000)
    assert "code=" in page.url and "state=s-chrome" in page.url
    assert csp_violations(console) == []
    context.close()


@pytest.mark.browser
def test_chromium_logs_in_and_goes_straight_on_to_an_approved_app(
    live, account, registered, client_app, chromium
):
    account(EARNER)
    with logged_in(live, EARNER) as browser:  # approved once, in another browser
        consent = browser.get(consent_url(registered, f"{client_app.url}/callback"))
        if consent.status_code == 200:  # not yet approved by an earlier test
            fields = re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', consent.text)
            approved = browser.post("/o/authorize", data={**dict(fields), "allow": "true"})
            assert approved.status_code == 302, approved.text[:300]

    context = chromium.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(live.base_url + consent_url(registered, f"{client_app.url}/callback", "s-again"))
    page.wait_for_url("**/accounts/login/**")
    page.fill("input[name=username]", EARNER)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{client_app.url}/callback?**", timeout=20_000)
    assert "code=" in page.url and "state=s-again" in page.url
    assert csp_violations(console) == []
    context.close()


INJECTED = (
    b'<script>window.injected = "inline script ran";</script>'
    b'<img src="/static/missing.png" onerror="window.injected = \'handler ran\'">'
    b'<p id="styled" style="color: rgb(255, 0, 0)">styled</p>'
)


@pytest.mark.browser
def test_chromium_refuses_an_inline_script_injected_into_a_page(live, chromium):
    """The server's own answer, headers and all, with markup an attacker might have slipped
    in: the policy, not the template's cleanliness, keeps it from running."""
    page = chromium.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    def inject(route):
        answer = route.fetch()
        body = answer.body().replace(b"</main>", INJECTED + b"</main>")
        route.fulfill(response=answer, body=body)

    page.route(f"{live.base_url}/accounts/login/", inject)
    page.goto(f"{live.base_url}/accounts/login/")
    page.wait_for_selector("#styled")
    page.wait_for_timeout(300)
    assert page.evaluate("window.injected") is None
    assert page.evaluate("getComputedStyle(document.getElementById('styled')).color") != (
        "rgb(255, 0, 0)"
    )
    assert any("script-src" in m for m in csp_violations(console)), console
    page.close()


@pytest.mark.browser
def test_chromium_admin_log_in_and_change_page_work_under_the_policy(live, admin, chromium):
    context = chromium.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{live.base_url}/admin/login/")
    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live.base_url}/admin/")

    page.goto(f"{live.base_url}/admin/accounts/user/")
    page.locator("#result_list tbody a").first.click()
    page.wait_for_url("**/change/")
    # The admin's own scripts ran: jQuery is loaded and the sidebar toggle works.
    assert page.evaluate("typeof django !== 'undefined' && typeof django.jQuery") == "function"
    page.goto(f"{live.base_url}/admin/connect/application/add/")
    page.fill("input[name=name]", "Made in the admin")
    page.goto(f"{live.base_url}/admin/accounts/user/")
    page.locator("#action-toggle").check()  # the admin's actions script ticks every row
    boxes = page.locator("#result_list tbody input.action-select")
    assert boxes.count() >= 1
    assert all(boxes.nth(index).is_checked() for index in range(boxes.count()))
    assert "selected" in page.locator(".action-counter").inner_text()
    assert csp_violations(console) == [], console
    context.close()


@pytest.mark.browser
def test_chromium_docs_render_and_try_out_under_the_policy(live, chromium):
    page = chromium.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{live.base_url}/docs")
    page.locator(".opblock-summary").first.click()
    page.locator("button.try-out__btn").first.click()
    page.locator("button.execute").first.click()
    page.locator(".responses-table .response").first.wait_for()
    page.locator("button.authorize").first.click()
    page.locator(".modal-ux").wait_for()
    assert csp_violations(console) == [], console
    page.close()
