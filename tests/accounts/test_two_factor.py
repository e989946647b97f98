"""Two-factor log-in (issue 17): turning it on with a real TOTP code and the password,
what that ends, the mails to the owner, the log-in's code step for every page and session
API call, recovery codes, what an admin may require, and the limits. Codes are computed
with django-otp's own TOTP function, as an app would."""

import re
from base64 import b32decode

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from laurels.accounts import services
from laurels.accounts.signals import two_factor_role_asked
from laurels.connect.models import AuditEvent
from laurels.connect.services import builtin_apps_ensure, personal_token_create
from laurels.jobs.models import OutboxMail
from tests.factories import DEFAULT_PASSWORD, IssuerFactory, UserFactory

pytestmark = pytest.mark.django_db
PAGE = "/account/two-factor/"
CODE_PAGE = "/accounts/login/code/"


def code_for(secret_or_device, drift: int = 0) -> str:
    """The code an authenticator app shows for this secret (as the page prints it, or a
    device's), `drift` steps of 30 seconds from now."""
    if isinstance(secret_or_device, TOTPDevice):
        key = secret_or_device.bin_key
    else:
        key = b32decode(secret_or_device.replace(" ", ""))
    return f"{totp(key, drift=drift):06d}"


def secret_on(page) -> str:
    match = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', page.content.decode())
    return match.group(1)


def recovery_codes_on(page) -> list[str]:
    return re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page.content.decode())


def turn_on(client: Client, password: str | None = DEFAULT_PASSWORD) -> tuple[str, list[str]]:
    """Turn two-factor log-in on through the page; the secret and the recovery codes."""
    assert client.post(PAGE, {"action": "start"}).status_code == 302
    secret = secret_on(client.get(PAGE))
    confirm = {"action": "confirm", "code": code_for(secret)}
    if password is not None:
        confirm["current_password"] = password
    done = client.post(PAGE, confirm)
    assert done.status_code == 200
    return secret, recovery_codes_on(done)


def mails_to(user) -> list[str]:
    return list(
        OutboxMail.objects.filter(to=user.email).order_by("pk").values_list("subject", flat=True)
    )


def log_in(
    email: str, password: str = DEFAULT_PASSWORD, next_url: str = "", address: str = "127.0.0.1"
) -> Client:
    client = Client(REMOTE_ADDR=address)
    query = f"?next={next_url}" if next_url else ""
    response = client.post(f"/accounts/login/{query}", {"username": email, "password": password})
    assert response.status_code == 302
    return client


@pytest.fixture
def with_two_factor(user, client_logged_in):
    """`user` with two-factor log-in on: (secret, recovery codes)."""
    return turn_on(client_logged_in)


def test_turning_on_shows_a_qr_code_and_secret_and_needs_a_right_code(user, client_logged_in):
    off = client_logged_in.get(PAGE)
    assert off.status_code == 200 and "is <strong>off</strong>" in off.content.decode()
    assert client_logged_in.get(PAGE).status_code == 200  # a GET writes nothing
    assert not TOTPDevice.objects.filter(user=user).exists()

    client_logged_in.post(PAGE, {"action": "start"})
    page = client_logged_in.get(PAGE)
    html = page.content.decode()
    assert '<svg role="img"' in html and "style=" not in html.split("<svg", 1)[1].split("</svg>")[0]
    secret = secret_on(page)
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed and code_for(secret) == code_for(device)

    confirm = {"action": "confirm", "current_password": DEFAULT_PASSWORD}
    wrong = client_logged_in.post(PAGE, {**confirm, "code": "000000"})
    assert wrong.status_code == 400
    assert "not right" in wrong.content.decode() and 'aria-invalid="true"' in wrong.content.decode()
    assert not TOTPDevice.objects.get(user=user).confirmed

    # No delay after a wrong code (django-otp's throttling is off).
    done = client_logged_in.post(PAGE, {**confirm, "code": code_for(secret)})
    assert done.status_code == 200
    codes = recovery_codes_on(done)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert 'download="recovery-codes.txt"' in done.content.decode()
    assert TOTPDevice.objects.get(user=user).confirmed
    # This session gave its code: it goes on; the codes are never shown again.
    on = client_logged_in.get(PAGE)
    assert "is <strong>on</strong>" in on.content.decode()
    assert recovery_codes_on(on) == [] and "10 unused recovery codes" in on.content.decode()
    audit = AuditEvent.objects.get(kind=AuditEvent.Kind.TWO_FACTOR_CHANGED)
    assert audit.user == user and audit.detail == {"change": "turned_on", "account": user.entity_id}


def test_log_in_asks_for_the_code_before_any_page(user, with_two_factor):
    secret, _ = with_two_factor
    client = log_in(user.email, next_url="/backpack/")
    # Every page sends to the code page, keeping where it was going.
    for path in ("/", "/backpack/", "/account/", PAGE, "/admin/", "/o/authorize?client_id=x"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(f"{CODE_PAGE}?next="), path
    assert client.get("/backpack/")["Location"] == f"{CODE_PAGE}?next=/backpack/"
    # What needs no account stays open; log-out too.
    assert client.get("/healthz").status_code == 200
    page = client.get(f"{CODE_PAGE}?next=/backpack/")
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.content.decode()
    assert 'name="next" value="/backpack/"' in page.content.decode()

    wrong = client.post(CODE_PAGE, {"code": "123456", "next": "/backpack/"})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    # The next step's code: the one that turned it on is spent (no replay).
    right = client.post(CODE_PAGE, {"code": code_for(secret, drift=1), "next": "/backpack/"})
    assert right.status_code == 302 and right["Location"] == "/backpack/"
    assert client.get("/backpack/").status_code == 200
    assert client.get(CODE_PAGE)["Location"] == "/"  # nothing more to ask


def test_the_code_page_goes_only_to_this_site(user, with_two_factor):
    secret, _ = with_two_factor
    client = log_in(user.email)
    done = client.post(CODE_PAGE, {"code": code_for(secret, 1), "next": "https://evil.example/"})
    assert done.status_code == 302 and done["Location"] == "/"


def test_session_api_calls_get_403_until_the_code_and_tokens_are_unaffected(user, with_two_factor):
    secret, _ = with_two_factor
    client = log_in(user.email)
    refused = client.get("/v2/users/self")
    assert refused.status_code == 403
    body = refused.json()
    assert body["status"]["success"] is False and "code" in body["status"]["description"]
    # A token is the app's business: its calls go on, even beside the unverified session.
    made = personal_token_create(user=user, name="script", scopes=["r:profile"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {made.key}"}
    assert client.get("/v2/users/self", **auth).status_code == 200
    assert Client().get("/v2/users/self", **auth).status_code == 200
    # ... but a header does not open pages to the session.
    assert client.get("/backpack/", **auth).status_code == 302
    client.post(CODE_PAGE, {"code": code_for(secret, 1)})
    assert client.get("/v2/users/self").status_code == 200


def test_a_recovery_code_works_once(user, with_two_factor):
    _, codes = with_two_factor
    client = log_in(user.email)
    used = client.post(CODE_PAGE, {"code": codes[0].upper()[:4] + "-" + codes[0][4:]})
    assert used.status_code == 302
    assert client.get("/backpack/").status_code == 200
    again = log_in(user.email)
    assert again.post(CODE_PAGE, {"code": codes[0]}).status_code == 400
    assert StaticToken.objects.filter(device__user=user).count() == 9
    assert again.post(CODE_PAGE, {"code": codes[1]}).status_code == 302


def test_wrong_codes_from_one_address_do_not_lock_the_owner_out(user, with_two_factor, settings):
    """Somebody holding the password guesses codes from their address: that address is
    refused for the window (429, the real wait), the owner's address is not."""
    secret, _ = with_two_factor
    settings.LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP = 3
    settings.LAURELS_LOGIN_RATE_PER_ACCOUNT = 3  # the account alone is not what codes count in
    attacker = log_in(user.email, address="203.0.113.66")
    for _ in range(3):
        assert attacker.post(CODE_PAGE, {"code": "nope-nope"}).status_code == 400
    limited = attacker.post(CODE_PAGE, {"code": code_for(secret, 1)})
    assert limited.status_code == 429
    wait = int(limited["Retry-After"])
    assert 0 < wait <= settings.LAURELS_LOGIN_RATE_WINDOW
    shown = "second" if wait < 60 else "minute"
    assert "Too many wrong codes. Try again in" in limited.content.decode()
    assert shown in limited.content.decode().split("Try again in", 1)[1][:30]
    assert attacker.get("/backpack/").status_code == 302

    owner = log_in(user.email, address="198.51.100.7")
    assert owner.post(CODE_PAGE, {"code": "111111"}).status_code == 400
    assert owner.post(CODE_PAGE, {"code": code_for(secret, 1)}).status_code == 302
    assert owner.get("/backpack/").status_code == 200


def test_a_code_is_tried_on_the_device_its_shape_names(user, with_two_factor):
    """Six digits never touch the recovery codes, a recovery code never the app, and a
    wrong code leaves no delay behind (django-otp's throttling is off)."""
    secret, codes = with_two_factor
    client = log_in(user.email)
    for _ in range(3):
        assert client.post(CODE_PAGE, {"code": "000000"}).status_code == 400
    assert StaticDevice.objects.get(user=user).throttling_failure_count == 0
    assert client.post(CODE_PAGE, {"code": "aaaaaaaa"}).status_code == 400
    assert client.post(CODE_PAGE, {"code": "12345678"}).status_code == 400  # neither shape
    # Right at once, no wait.
    assert client.post(CODE_PAGE, {"code": code_for(secret, 1)}).status_code == 302
    assert log_in(user.email).post(CODE_PAGE, {"code": codes[0]}).status_code == 302


def test_turning_off_and_new_codes_need_the_password(user, client_logged_in, with_two_factor):
    _, old_codes = with_two_factor
    wrong = client_logged_in.post(PAGE, {"action": "off", "off-current_password": "guess"})
    assert wrong.status_code == 400 and "not your current password" in wrong.content.decode()
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()

    renewed = client_logged_in.post(
        PAGE, {"action": "renew", "renew-current_password": DEFAULT_PASSWORD}
    )
    assert mails_to(user)[-1] == "New recovery codes were made for your account"
    new_codes = recovery_codes_on(renewed)
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)

    # A new password keeps two-factor log-in.
    services.password_set(user=user, password="another long passphrase")
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    client = Client()
    client.force_login(user)
    assert client.get("/")["Location"].startswith(CODE_PAGE)

    client_logged_in.force_login(user)  # the password change ended the session
    client_logged_in.post(CODE_PAGE, {"code": new_codes[0]})
    off = client_logged_in.post(
        PAGE, {"action": "off", "off-current_password": "another long passphrase"}
    )
    assert off.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert mails_to(user)[-1] == "Two-factor log-in was turned off for your account"
    assert log_in(user.email, "another long passphrase").get("/backpack/").status_code == 200
    changes = AuditEvent.objects.filter(kind=AuditEvent.Kind.TWO_FACTOR_CHANGED)
    assert [e.detail["change"] for e in changes.order_by("pk")] == [
        "turned_on",
        "recovery_codes_renewed",
        "turned_off",
    ]


def test_hostile_input_is_a_4xx(user, client_logged_in, with_two_factor):
    assert client_logged_in.post(PAGE, {"action": "explode"}).status_code == 400
    assert client_logged_in.post(PAGE, {"action": "off"}).status_code == 400
    # A new secret while it is on would get around the password that turning off needs.
    assert client_logged_in.post(PAGE, {"action": "start"}).status_code == 400
    assert TOTPDevice.objects.filter(user=user).count() == 1
    client = log_in(user.email)
    assert client.post(CODE_PAGE, {"code": "x" * 5000}).status_code == 400
    assert client.post(CODE_PAGE, {}).status_code == 400


@pytest.mark.parametrize("mode", ["admins", "staff"])
def test_required_for_admins_sends_to_set_up_first(settings, mode):
    settings.LAURELS_TWO_FACTOR_REQUIRED = mode
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = log_in(admin.email)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == f"{PAGE}?next=/admin/"
    assert client.get("/v2/users/self").status_code == 403
    page = client.get(PAGE)
    assert page.status_code == 200 and "require two-factor log-in" in page.content.decode()
    turn_on(client)
    assert client.get("/admin/").status_code == 200
    refused = client.post(PAGE, {"action": "off", "off-current_password": DEFAULT_PASSWORD})
    assert refused.status_code == 400 and "require" in refused.content.decode()


def test_required_for_staff_reaches_issuer_staff_only_in_staff_mode(settings):
    member, other = UserFactory(), UserFactory()
    IssuerFactory(owner=member)
    settings.LAURELS_TWO_FACTOR_REQUIRED = "admins"
    assert log_in(member.email).get("/backpack/").status_code == 200
    settings.LAURELS_TWO_FACTOR_REQUIRED = "staff"
    assert log_in(member.email).get("/backpack/")["Location"].startswith(PAGE)
    assert log_in(other.email).get("/backpack/").status_code == 200


def test_an_admin_resets_two_factor_from_the_user_list(user, with_two_factor):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/admin/accounts/user/",
        {"action": "two_factor_reset", "_selected_action": [user.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    reset = AuditEvent.objects.get(detail__change="reset")
    assert reset.user == admin and reset.detail["account"] == user.entity_id
    # Its secrets are not on show in the admin.
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    change_page = client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Two-factor log-in" in change_page


def password_grant(email: str, password: str = DEFAULT_PASSWORD):
    return Client().post("/o/token", {"username": email, "password": password})


def test_the_password_grant_is_refused_as_a_wrong_password_is(user, with_two_factor, settings):
    """Badgr's log-in at /o/token takes a password alone: no way around the code, and the
    refusal does not tell that the password was right."""
    builtin_apps_ensure()
    other = UserFactory()
    assert password_grant(other.email).status_code == 200
    wrong = password_grant(other.email, "not the password")
    refused = password_grant(user.email)
    assert (refused.status_code, refused.json()) == (wrong.status_code, wrong.json())
    assert refused.json()["error"] == "invalid_grant"
    # It counts as the failed log-in it answers as.
    settings.LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP = 2
    assert password_grant(user.email).status_code == 400
    assert password_grant(user.email).status_code == 429


def test_the_password_grant_is_refused_while_two_factor_is_required_but_not_set_up(settings):
    builtin_apps_ensure()
    admin = UserFactory(is_staff=True)
    assert password_grant(admin.email).status_code == 200
    settings.LAURELS_TWO_FACTOR_REQUIRED = "admins"
    refused = password_grant(admin.email)
    assert refused.status_code == 400
    assert refused.json() == password_grant(admin.email, "not the password").json()


def test_an_admin_already_logged_in_is_sent_to_set_up_once_it_is_required(settings):
    admin = UserFactory(is_staff=True)
    client = log_in(admin.email)
    assert client.get("/admin/").status_code == 200
    settings.LAURELS_TWO_FACTOR_REQUIRED = "admins"
    assert client.get("/admin/")["Location"] == f"{PAGE}?next=/admin/"


def test_the_setting_takes_only_its_three_words(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from laurels.config import env_choice

    choices = ("off", "admins", "staff")
    monkeypatch.setenv("LAURELS_TWO_FACTOR_REQUIRED", " Admins ")
    assert env_choice("LAURELS_TWO_FACTOR_REQUIRED", "off", choices) == "admins"
    monkeypatch.setenv("LAURELS_TWO_FACTOR_REQUIRED", "")
    assert env_choice("LAURELS_TWO_FACTOR_REQUIRED", "off", choices) == "off"
    monkeypatch.setenv("LAURELS_TWO_FACTOR_REQUIRED", "everyone")
    with pytest.raises(ImproperlyConfigured, match="LAURELS_TWO_FACTOR_REQUIRED"):
        env_choice("LAURELS_TWO_FACTOR_REQUIRED", "off", choices)


def test_a_stolen_session_alone_cannot_turn_it_on_and_the_owner_is_told(user, client_logged_in):
    """Turning it on asks for the password beside the code: a stolen session must not put
    the thief's authenticator on the account. Every change is mailed to the owner."""
    client_logged_in.post(PAGE, {"action": "start"})
    page = client_logged_in.get(PAGE)
    assert 'name="current_password"' in page.content.decode()
    secret = secret_on(page)
    for password in ("", "a guess"):
        refused = client_logged_in.post(
            PAGE, {"action": "confirm", "code": code_for(secret), "current_password": password}
        )
        assert refused.status_code == 400
        assert not TOTPDevice.objects.get(user=user).confirmed
    assert "not your current password" in refused.content.decode()
    assert mails_to(user) == []
    turn_on(client_logged_in)
    assert mails_to(user) == ["Two-factor log-in was turned on for your account"]
    body = OutboxMail.objects.get(to=user.email).body
    assert "Every other session" in body and "/accounts/password/reset/" in body


def test_an_account_without_a_password_turns_it_on_with_the_code_alone(user, client_logged_in):
    """An institutional log-in has no password to give (docs/accounts.md)."""
    user.set_unusable_password()
    user.save()
    client_logged_in.force_login(user)
    client_logged_in.post(PAGE, {"action": "start"})
    assert 'name="current_password"' not in client_logged_in.get(PAGE).content.decode()
    turn_on(client_logged_in, password=None)
    assert TOTPDevice.objects.get(user=user).confirmed


def test_turning_it_on_ends_every_other_session_and_token(user, client_logged_in):
    """Whatever got in with the password alone is out, as after a new password; the
    session that turned it on goes on, verified."""
    builtin_apps_ensure()
    granted = Client().post("/o/token", {"username": user.email, "password": DEFAULT_PASSWORD})
    tokens = granted.json()
    personal = personal_token_create(user=user, name="script", scopes=["r:profile"])
    other_session = log_in(user.email)
    assert other_session.get("/backpack/").status_code == 200

    turn_on(client_logged_in)
    assert other_session.get("/backpack/")["Location"].startswith("/accounts/login/")
    for key in (tokens["access_token"], personal.key):
        assert Client().get("/v2/users/self", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
    refreshed = Client().post(
        "/o/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "public",
        },
    )
    assert refreshed.status_code == 400
    assert client_logged_in.get("/backpack/").status_code == 200
    assert client_logged_in.get(CODE_PAGE)["Location"] == "/"  # nothing owed


def test_a_verified_session_costs_no_more_queries_than_one_without_two_factor(
    user, with_two_factor, django_assert_num_queries
):
    """The session, its user, the page's own two reads and its LTI launch buttons' one:
    nothing more once the code is given (no device is read per request)."""
    secret, _ = with_two_factor
    plain = log_in(UserFactory().email)
    plain.get("/backpack/")
    with django_assert_num_queries(5):
        assert plain.get("/backpack/").status_code == 200
    client = log_in(user.email)
    client.post(CODE_PAGE, {"code": code_for(secret, 1)})
    client.get("/backpack/")
    with django_assert_num_queries(5):
        assert client.get("/backpack/").status_code == 200


def test_each_api_refuses_a_session_owing_its_code_in_its_own_shape(user, with_two_factor):
    """/v2 and /v1 answer 403 in their envelope (`api.auth.SessionCaller`); Badge
    Connect takes no session at all: 401 in its own envelope."""
    client = log_in(user.email)
    v2 = client.get("/v2/users/self")
    assert v2.status_code == 403
    assert v2.json()["status"]["success"] is False and "result" in v2.json()
    assert "code" in v2.json()["status"]["description"]
    assert client.get("/v1/user/auth-token").status_code == 403
    badge_connect = client.get("/bcv1/assertions")
    assert badge_connect.status_code == 401
    assert badge_connect.json()["status"]["statusCode"] == 401
    assert "result" not in badge_connect.json()


def test_issuer_staff_is_told_by_issuing():
    """`issuing` owns roles: it answers `two_factor_role_asked` (web has no say)."""
    receivers = {r.__module__ for r in two_factor_role_asked._live_receivers(None)[0]}
    assert receivers == {"laurels.issuing.receivers"}
