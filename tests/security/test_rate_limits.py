"""Rate limits against a live server with two workers: guessing passwords, flooding mail,
sign-ups and registrations, and an app's share of the /v2 API.

Every limit is counted in one shared store (the database here), so the (N+1)th attempt
is refused whichever worker answers it. Each test speaks from its own loopback address
(127.0.0.x), so the per-address counters of one test do not touch another's; the server
trusts 127.0.0.1 as its proxy, so `X-Forwarded-For` counts only from there.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
from django.test import Client, RequestFactory, override_settings

from laurels.core.clients import client_address
from laurels.core.models import RateLimitCounter
from laurels.core.ratelimit import (
    BatchedLimiter,
    Limit,
    batch_size_for,
    key_digest,
    rate_limit_hit,
)
from tests.connect.oauth_helpers import bearer, register_app, token_for
from tests.factories import UserFactory
from tests.servers import (
    PASSWORD,
    RunningServer,
    api_client_for,
    free_port,
    laurels_cli,
    laurels_server,
    mail_settled,
)

TIMEOUT = 30
PER_ACCOUNT_AND_IP = 5
PER_ACCOUNT = 9
PER_IP = 12
RESEND_PER_ACCOUNT = 3
RESET_PER_ACCOUNT = 3
RESET_PER_IP = 4
SIGNUPS_PER_IP = 3
REGISTRATIONS_PER_IP = 3
API_PER_APP = 30
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> Iterator[RunningServer]:
    """Two workers, low limits, windows of a day (a test never straddles one), and
    127.0.0.1 as the trusted proxy."""
    with laurels_server(
        tmp_path_factory.mktemp("limits") / "var",
        workers=2,
        LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP=str(PER_ACCOUNT_AND_IP),
        LAURELS_LOGIN_RATE_PER_ACCOUNT=str(PER_ACCOUNT),
        LAURELS_LOGIN_RATE_PER_IP=str(PER_IP),
        LAURELS_LOGIN_RATE_WINDOW="86400",
        LAURELS_VERIFICATION_RESEND_RATE_PER_ACCOUNT=str(RESEND_PER_ACCOUNT),
        LAURELS_PASSWORD_RESET_RATE_PER_ACCOUNT=str(RESET_PER_ACCOUNT),
        LAURELS_PASSWORD_RESET_RATE_PER_IP=str(RESET_PER_IP),
        LAURELS_SIGNUP_RATE_PER_IP=str(SIGNUPS_PER_IP),
        LAURELS_SELF_REGISTRATION_RATE_PER_IP=str(REGISTRATIONS_PER_IP),
        LAURELS_API_RATE_PER_APP=str(API_PER_APP),
        LAURELS_TRUSTED_PROXIES="127.0.0.1",
    ) as server:
        yield server


def speaking_from(server: RunningServer, address: str) -> httpx.Client:
    """A client whose requests come from `address`, each on a new connection (so either
    worker may answer it)."""
    transport = httpx.HTTPTransport(
        local_address=address, limits=httpx.Limits(max_keepalive_connections=0)
    )
    return httpx.Client(base_url=server.base_url, transport=transport, timeout=TIMEOUT)


def password_grant(client: httpx.Client, email: str, password: str, **headers) -> httpx.Response:
    """Badgr's log-in: `POST /o/token` with only a user name and password."""
    return client.post("/o/token", data={"username": email, "password": password}, headers=headers)


def form_post(client: httpx.Client, path: str, fields: dict) -> httpx.Response:
    """Fill in and send a page's form as a browser would (with its CSRF token)."""
    token = CSRF.search(client.get(path).text).group(1)
    return client.post(path, data={"csrfmiddlewaretoken": token, **fields})


def web_login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return form_post(client, "/accounts/login/", {"username": email, "password": password})


def assert_oauth_429(response: httpx.Response) -> None:
    assert response.status_code == 429, (response.status_code, response.text[:200])
    assert 0 < int(response.headers["Retry-After"]) <= 86400
    assert response.json()["error"] == "temporarily_unavailable"


def mails_to(server: RunningServer, address: str) -> int:
    """Emails the server has sent to `address` (its jobs runner prints each one)."""
    mail_settled(server)
    return server.log().count(f"To: {address}\n")


def at_least_seconds_left_in_minute(seconds: int) -> None:
    """The /v2 quota counts per clock minute: start a test well inside one."""
    if 60 - time.time() % 60 < seconds:
        time.sleep(60 - time.time() % 60 + 0.5)


@pytest.mark.server
def test_guessing_at_the_password_grant_is_cut_off_and_the_owner_still_logs_in(limited):
    """40 wrong passwords at /o/token used to be answered, then the right one worked. Then
    (review 13, item 1) the limit was the account's alone: ten guesses from anywhere
    locked the owner out everywhere. The guesser is cut off; the owner is not."""
    laurels_cli(limited, "createuser", "guessed@example.org", "--password", PASSWORD)
    with speaking_from(limited, "127.0.0.11") as attacker:
        answers = [password_grant(attacker, "guessed@example.org", f"guess {n}") for n in range(40)]
        assert [a.status_code for a in answers[:PER_ACCOUNT_AND_IP]] == [400] * PER_ACCOUNT_AND_IP
        for answer in answers[PER_ACCOUNT_AND_IP:]:
            assert_oauth_429(answer)
        assert_oauth_429(password_grant(attacker, "guessed@example.org", PASSWORD))
    with speaking_from(limited, "127.0.0.12") as owner:
        assert password_grant(owner, "guessed@example.org", PASSWORD).status_code == 200
        assert web_login(owner, "guessed@example.org", PASSWORD).status_code == 302


@pytest.mark.server
def test_logging_in_again_and_again_is_not_limited(limited):
    """Only failures count: an app that logs in often is not locked out by its successes."""
    laurels_cli(limited, "createuser", "frequent@example.org", "--password", PASSWORD)
    with speaking_from(limited, "127.0.0.23") as owner:
        answers = [
            password_grant(owner, "frequent@example.org", PASSWORD).status_code
            for _ in range(PER_ACCOUNT + 2)
        ]
    assert answers == [200] * (PER_ACCOUNT + 2)


@pytest.mark.server
def test_attempts_refused_by_the_address_limit_do_not_count_against_the_account(limited):
    """An address that used up its own limit goes on hammering one account: every answer is
    429, and none of it counts against that account, whose owner logs in from elsewhere."""
    laurels_cli(limited, "createuser", "hammered@example.org", "--password", PASSWORD)
    with speaking_from(limited, "127.0.0.24") as attacker:
        for n in range(PER_IP):
            password_grant(attacker, f"spray-{n}@example.org", "Winter2024!")
        for n in range(3 * PER_ACCOUNT):
            assert_oauth_429(password_grant(attacker, "hammered@example.org", f"guess {n}"))
    with speaking_from(limited, "127.0.0.25") as owner:
        assert password_grant(owner, "hammered@example.org", PASSWORD).status_code == 200


@pytest.mark.server
def test_the_account_alone_has_a_higher_limit(limited):
    """Guesses from many addresses still meet the account's own limit, a larger one."""
    laurels_cli(limited, "createuser", "distributed@example.org", "--password", PASSWORD)
    spread = {"127.0.0.26": PER_ACCOUNT_AND_IP, "127.0.0.27": PER_ACCOUNT - PER_ACCOUNT_AND_IP}
    for host, guesses in spread.items():
        with speaking_from(limited, host) as attacker:
            for n in range(guesses):
                answer = password_grant(attacker, "distributed@example.org", f"guess {n}")
                assert answer.status_code == 400, answer.text
    with speaking_from(limited, "127.0.0.28") as anywhere:
        assert_oauth_429(password_grant(anywhere, "distributed@example.org", PASSWORD))


@pytest.mark.server
def test_the_admin_password_change_page_is_no_way_around_the_limit(limited):
    """`/admin/password_change/` took 15 wrong current passwords in a row (all 200). It now
    sends to the account's own page, whose guesses count in the log-in counters."""
    email = "admin-changer@example.org"
    laurels_cli(limited, "createuser", email, "--password", PASSWORD, "--admin")
    with speaking_from(limited, "127.0.0.29") as admin:
        assert web_login(admin, email, PASSWORD).status_code == 302
        for n in range(PER_ACCOUNT_AND_IP + 3):
            fields = {
                "old_password": f"guess {n}",
                "new_password1": "a brand new passphrase",
                "new_password2": "a brand new passphrase",
            }
            answer = admin.post(
                "/admin/password_change/",
                data={"csrfmiddlewaretoken": admin.cookies["csrftoken"], **fields},
            )
            assert answer.status_code == 302, (n, answer.status_code)
            assert answer.headers["Location"] == "/accounts/password/change/"
        for n in range(PER_ACCOUNT_AND_IP):
            fields = {
                "current_password": f"guess {n}",
                "password1": "a brand new passphrase",
                "password2": "a brand new passphrase",
            }
            answer = form_post(admin, "/accounts/password/change/", fields)
            assert answer.status_code == 400, (n, answer.status_code)
        fields["current_password"] = PASSWORD
        refused = form_post(admin, "/accounts/password/change/", fields)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        # the same counters as the log-in's: this address may not guess by logging in either
        assert_oauth_429(password_grant(admin, email, PASSWORD))


@pytest.mark.server
def test_the_web_log_in_limit_also_stops_the_password_grant(limited):
    laurels_cli(limited, "createuser", "both@example.org", "--password", PASSWORD)
    with speaking_from(limited, "127.0.0.13") as attacker:
        for n in range(PER_ACCOUNT_AND_IP):
            assert web_login(attacker, "both@example.org", f"guess {n}").status_code == 400
        refused = web_login(attacker, "both@example.org", PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert_oauth_429(password_grant(attacker, "both@example.org", PASSWORD))


@pytest.mark.server
def test_the_admin_log_in_counts_in_the_same_limits(limited):
    laurels_cli(limited, "createuser", "root@example.org", "--password", PASSWORD, "--admin")
    with speaking_from(limited, "127.0.0.22") as attacker:
        for n in range(PER_ACCOUNT_AND_IP):
            assert password_grant(attacker, "root@example.org", f"guess {n}").status_code == 400
        fields = {"username": "root@example.org", "password": PASSWORD, "next": "/admin/"}
        refused = form_post(attacker, "/admin/login/", fields)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert attacker.get("/admin/").status_code == 302  # still not logged in


@pytest.mark.server
def test_the_limit_is_exact_across_workers(limited):
    """Per process, each of the 2 workers allowed the whole limit (18 tries passed 10)."""
    laurels_cli(limited, "createuser", "racer@example.org", "--password", PASSWORD)

    def attempt(n: int) -> int:
        with speaking_from(limited, "127.0.0.14") as client:
            return web_login(client, "racer@example.org", f"guess {n}").status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(attempt, range(4 * PER_ACCOUNT_AND_IP)))
    assert sorted(answers) == [400] * PER_ACCOUNT_AND_IP + [429] * (3 * PER_ACCOUNT_AND_IP), answers


@pytest.mark.server
def test_one_address_may_not_try_account_after_account(limited):
    with speaking_from(limited, "127.0.0.15") as sprayer:
        answers = [
            password_grant(sprayer, f"sprayed{n}@example.org", "Winter2024!").status_code
            for n in range(PER_IP)
        ]
        assert answers == [400] * PER_IP
        assert_oauth_429(password_grant(sprayer, "sprayed-last@example.org", "Winter2024!"))


@pytest.mark.server
def test_password_reset_mail_stops_at_the_limit_and_the_answer_stays_the_same(limited):
    laurels_cli(limited, "createuser", "reset-a@example.org", "--password", PASSWORD)
    laurels_cli(limited, "createuser", "reset-b@example.org", "--password", PASSWORD)
    with speaking_from(limited, "127.0.0.16") as client:
        answers = [
            form_post(client, "/accounts/password/reset/", {"email": email})
            for email in ["reset-a@example.org"] * (RESET_PER_ACCOUNT + 2)
            + ["reset-b@example.org"] * 3
            + ["nobody@example.org"]
        ]
    assert {(a.status_code, a.headers["Location"]) for a in answers} == {
        (302, "/accounts/password/reset/sent/")
    }
    time.sleep(0.5)  # the console log is written as the answer goes out
    assert mails_to(limited, "reset-a@example.org") == RESET_PER_ACCOUNT
    # the address's own limit, then the client address's: 3 + 1 mails from here in all
    assert mails_to(limited, "reset-b@example.org") == RESET_PER_IP - RESET_PER_ACCOUNT


@pytest.mark.server
def test_verification_resend_is_limited_and_says_when_to_retry(limited):
    with speaking_from(limited, "127.0.0.17") as client:
        fields = {"email": "waiting@example.org"}
        answers = [
            form_post(client, "/accounts/verify/resend/", fields) for _ in range(RESEND_PER_ACCOUNT)
        ]
        assert {a.status_code for a in answers} == {302}
        refused = form_post(client, "/accounts/verify/resend/", fields)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


@pytest.mark.server
def test_sign_ups_from_one_address_are_limited(limited):
    def sign_up(client: httpx.Client, n: int) -> httpx.Response:
        email = f"newcomer{n}@example.org"
        return form_post(
            client,
            "/accounts/signup/",
            {"email": email, "password1": PASSWORD, "password2": PASSWORD},
        )

    with speaking_from(limited, "127.0.0.18") as client:
        answers = [sign_up(client, n) for n in range(SIGNUPS_PER_IP)]
        assert [a.status_code for a in answers] == [200] * SIGNUPS_PER_IP
        refused = sign_up(client, SIGNUPS_PER_IP)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many" in refused.text
    with speaking_from(limited, "127.0.0.19") as other:
        assert sign_up(other, 99).status_code == 200


@pytest.mark.server
def test_registrations_are_limited_exactly_across_workers(limited):
    def register(n: int) -> httpx.Response:
        with speaking_from(limited, "127.0.0.20") as client:
            return client.post(
                "/o/register",
                json={
                    "client_name": f"Flood {n}",
                    "redirect_uris": ["https://flood.example.org/cb"],
                    "scope": "r:profile",
                },
            )

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(register, range(4 * REGISTRATIONS_PER_IP)))
    created = [a for a in answers if a.status_code == 201]
    assert len(created) == REGISTRATIONS_PER_IP, [a.status_code for a in answers]
    for answer in answers:
        if answer.status_code != 201:
            assert_oauth_429(answer)


@pytest.mark.server
def test_an_app_gets_its_share_of_the_api_and_then_429(limited):
    """Per app (per app and user for this server's own clients, such as Badgr's `public`,
    which every Badgr user shares), kept list answers counted too."""
    first = api_client_for(limited, "quota@example.org")
    second = api_client_for(limited, "quota-other@example.org")
    at_least_seconds_left_in_minute(20)
    answers = [first.get("/v2/users/self").status_code for _ in range(10)]
    answers += [first.get("/v2/backpack/assertions").status_code for _ in range(API_PER_APP - 10)]
    assert answers == [200] * API_PER_APP
    for path in ["/v2/backpack/assertions", "/v2/users/self"]:
        refused = first.get(path)
        assert refused.status_code == 429, (path, refused.text[:200])
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["status"]["success"] is False
    assert second.get("/v2/users/self").status_code == 200


@pytest.mark.server
def test_forwarded_for_counts_only_through_a_trusted_proxy(limited):
    """Behind the trusted proxy (127.0.0.1) each client is counted on its own; from any
    other peer, and to the left of the client the proxy saw, the header is ignored."""
    with speaking_from(limited, "127.0.0.1") as proxy:
        for n in range(PER_IP + 3):  # more than one address's limit, from 15 clients
            answer = password_grant(
                proxy, f"proxied{n}@example.org", "x", **{"X-Forwarded-For": f"203.0.113.{n}"}
            )
            assert answer.status_code == 400, (n, answer.text)
        for n in range(PER_IP):  # the left-most entry is the client's to write
            password_grant(
                proxy,
                f"spoof{n}@example.org",
                "x",
                **{"X-Forwarded-For": f"198.51.100.{n}, 192.0.2.77"},
            )
        spoofed = password_grant(
            proxy, "spoof-last@example.org", "x", **{"X-Forwarded-For": "198.51.100.99, 192.0.2.77"}
        )
        assert_oauth_429(spoofed)
    with speaking_from(limited, "127.0.0.21") as direct:
        for n in range(PER_IP):
            password_grant(
                direct, f"direct{n}@example.org", "x", **{"X-Forwarded-For": f"203.0.113.{n}"}
            )
        assert_oauth_429(
            password_grant(
                direct, "direct-last@example.org", "x", **{"X-Forwarded-For": "203.0.113.200"}
            )
        )
    with sqlite3.connect(limited.home / "laurels.sqlite3") as database:
        audited = {
            row[0]
            for row in database.execute(
                "SELECT ip_address FROM connect_auditevent WHERE kind = 'token_failed'"
            )
        }
    assert {"203.0.113.3", "192.0.2.77", "127.0.0.21"} <= audited
    assert not audited & {"198.51.100.3", "127.0.0.1"}


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A Redis server of this module's own, on a free port, keeping nothing on disk."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            time.sleep(0.05)
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.server
def test_with_redis_the_limits_are_counted_there(tmp_path, redis_url):
    """With REDIS_URL the counters are Redis keys (digests, expiring with their window),
    still exact across workers; the database keeps none."""
    home = tmp_path / "var"
    with laurels_server(
        home,
        workers=2,
        REDIS_URL=redis_url,
        LAURELS_LOGIN_RATE_PER_ACCOUNT_AND_IP=str(PER_ACCOUNT_AND_IP),
    ) as server:

        def attempt(n: int) -> int:
            with speaking_from(server, "127.0.0.30") as client:
                return web_login(client, "redis@example.org", f"guess {n}").status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(attempt, range(4 * PER_ACCOUNT_AND_IP)))
        expected = [400] * PER_ACCOUNT_AND_IP + [429] * (3 * PER_ACCOUNT_AND_IP)
        assert sorted(answers) == expected, answers
        with sqlite3.connect(home / "laurels.sqlite3") as database:
            rows = database.execute("SELECT COUNT(*) FROM laurels_core_ratelimitcounter")
            assert rows.fetchone()[0] == 0
    client = redis.Redis.from_url(redis_url)
    keys = [key.decode() for key in client.keys("laurels:ratelimit:login:*")]
    # the account's counter, the client address's, and the pair's
    assert len(keys) == 3
    assert not any("@" in key or "127.0.0" in key for key in keys)
    assert all(0 < client.ttl(key) <= 900 + 1 for key in keys)
    # the failures that were tried, exactly; the refused attempts were taken back
    assert [int(client.get(key)) for key in keys] == [PER_ACCOUNT_AND_IP] * 3
    client.close()


@pytest.mark.django_db
def test_the_users_of_one_app_share_its_quota(settings):
    """A third-party app's quota is the app's, whichever user's token it uses."""
    settings.LAURELS_API_RATE_PER_APP = 4
    app = register_app(scopes="r:profile")
    tokens = [
        token_for(UserFactory(email=f"member{n}@example.org"), app, "r:profile") for n in range(2)
    ]
    at_least_seconds_left_in_minute(10)
    answers = [Client().get("/v2/users/self", headers=bearer(tokens[n % 2])) for n in range(5)]
    assert [a.status_code for a in answers] == [200] * 4 + [429]
    assert 0 < int(answers[-1]["Retry-After"]) <= 60


@pytest.mark.django_db
def test_counters_are_digests_and_ended_windows_are_pruned():
    RateLimitCounter.objects.create(
        scope="login:ip", key_digest="0" * 64, window_start=0, expires_at=60, hits=3
    )
    limit = Limit("login:account", "ada@example.org", 2, 60)
    verdicts = [rate_limit_hit(limit) for _ in range(3)]
    assert [(v.allowed, v.count) for v in verdicts] == [(True, 1), (True, 2), (False, 3)]
    assert all(0 < v.retry_after <= 60 for v in verdicts)
    (row,) = RateLimitCounter.objects.values_list("scope", "key_digest", "hits")
    assert row == ("login:account", key_digest("login:account", "ada@example.org"), 3)
    assert "ada@example.org" not in row[1] and len(row[1]) == 64


@pytest.mark.django_db
def test_batched_counts_stay_within_the_documented_bound():
    """Two processes counting in batches of 1% of a quota of 1,000 (batches of 10):
    together they admit the quota and at most 9 more each."""
    at_least_seconds_left_in_minute(10)
    workers = [BatchedLimiter(), BatchedLimiter()]
    limit = Limit("api:app", "bound-test", 1000, 60)
    admitted = sum(workers[n % 2].hit(limit).allowed for n in range(1300))
    assert 1000 <= admitted <= 1000 + 2 * (batch_size_for(1000) - 1)
    assert not any(worker.hit(limit).allowed for worker in workers)


# --- client_address on its own ----------------------------------------------------------


def request_from(peer: str, forwarded: str | None = None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=peer, **headers)


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("192.0.2.1", "203.0.113.9", "192.0.2.1"),  # an untrusted peer: header ignored
        ("10.0.0.1", None, "10.0.0.1"),  # the proxy itself, with no header
        ("10.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # never the left-most blindly
        ("10.0.0.1", "203.0.113.9, 10.0.0.7", "203.0.113.9"),  # a chain of trusted proxies
        ("10.0.0.1", "10.0.0.9, 10.0.0.7", "10.0.0.9"),  # nothing but proxies: the farthest
        ("10.0.0.1", "203.0.113.9:4711", "203.0.113.9"),  # a port some proxies append
        ("10.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
        ("10.0.0.1", "2001:DB8::2", "2001:db8::2"),
        ("10.0.0.1", "6.6.6.6, not-an-address", "10.0.0.1"),  # garbage: the proxy it came from
        ("10.0.0.1", "", "10.0.0.1"),
    ],
)
def test_client_address_walks_forwarded_for_from_the_right(peer, forwarded, expected):
    with override_settings(LAURELS_TRUSTED_PROXIES=["10.0.0.0/8"]):
        assert client_address(request_from(peer, forwarded)) == expected


def test_client_address_without_trusted_proxies_is_the_peer():
    with override_settings(LAURELS_TRUSTED_PROXIES=[]):
        assert client_address(request_from("10.0.0.1", "203.0.113.9")) == "10.0.0.1"
