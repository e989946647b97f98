"""Untrusted remote documents: badge imports against a live server, fed by a hostile host.

Each test plays an attacker whose badge documents (assertions, badge classes, issuer
profiles, keys, baked images) are served by `hostile`; a second hostile server on another
port plays a real, unsuspecting issuer ("Harvard"), whose origin differs from the
attacker's. Every refusal must be a clear 4xx with a short message, and must leave the
server free for everyone else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import RSAKey

from tests.factories import png_bytes
from tests.security.conftest import FETCH_DEADLINE, HostileServer, drip
from tests.servers import PASSWORD, RunningServer

pytestmark = pytest.mark.server

EARNER = "earner@example.org"
CONTEXT = "https://w3id.org/openbadges/v2"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- the attacker's (and Harvard's) documents --------------------------------------------------


@pytest.fixture(scope="module")
def harvard() -> Iterator[HostileServer]:
    """A second host, on another origin: an issuer that the attacker tries to speak for."""
    server = HostileServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def earner(account) -> httpx.Client:
    return account(EARNER)


@pytest.fixture(scope="module")
def attacker_key() -> RSAKey:
    return RSAKey.generate_key(2048)


@pytest.fixture(scope="module")
def harvard_key() -> RSAKey:
    return RSAKey.generate_key(2048)


def badge_documents(host: HostileServer, name: str, *, issuer: str | None = None) -> dict:
    """A valid hosted badge for EARNER under `/{name}/` on `host` (not served yet)."""
    base = f"{host.url}/{name}"
    salt = "pepper"
    identity = "sha256$" + hashlib.sha256((EARNER + salt).encode()).hexdigest()
    return {
        "assertion": {
            "@context": CONTEXT,
            "type": "Assertion",
            "id": f"{base}/assertion",
            "badge": f"{base}/badge",
            "recipient": {"type": "email", "hashed": True, "salt": salt, "identity": identity},
            "issuedOn": "2026-01-01T00:00:00Z",
            "verification": {"type": "HostedBadge"},
        },
        "badge": {
            "@context": CONTEXT,
            "type": "BadgeClass",
            "id": f"{base}/badge",
            "name": f"Badge {name}",
            "description": "Earned by doing the work.",
            "image": f"{base}/image",
            "criteria": {"narrative": "Do the work."},
            "issuer": issuer or f"{base}/issuer",
        },
        "issuer": {
            "@context": CONTEXT,
            "type": "Issuer",
            "id": f"{base}/issuer",
            "name": f"Issuer {name}",
            "url": "https://issuer.example.org",
            "email": "badges@issuer.example.org",
        },
    }


def serve(host: HostileServer, name: str, documents: dict) -> str:
    """Serve the documents (and a PNG image) under `/{name}/`; the assertion's URL."""
    for kind, document in documents.items():
        host.json(f"/{name}/{kind}", document)
    host.raw(f"/{name}/image", png_bytes(), "image/png")
    return f"{host.url}/{name}/assertion"


def signed(key: RSAKey, payload) -> str:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return jws.serialize_compact({"alg": "RS256"}, body, key)


def key_document(key_url: str, owner: str, key: RSAKey) -> dict:
    return {
        "@context": CONTEXT,
        "type": "CryptographicKey",
        "id": key_url,
        "owner": owner,
        "publicKeyPem": key.as_pem(private=False).decode(),
    }


def import_badge(api: httpx.Client, **body) -> httpx.Response:
    return api.post("/v2/backpack/import", json=body)


def description(response: httpx.Response) -> str:
    return response.json()["status"]["description"]


def png_with_chunk(kind: bytes, body: bytes) -> bytes:
    """A real PNG with one more chunk before its end."""
    image = png_bytes()
    chunk = (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )
    return image[:-12] + chunk + image[-12:]


def png_data_uri(image: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(image).decode()


def not_4xx(cases: dict[str, Callable[[], httpx.Response]]) -> dict[str, str]:
    """Run each case; those that did not answer a 4xx with a short message, and what they did."""
    wrong = {}
    for name, run in cases.items():
        try:
            response = run()
        except httpx.HTTPError as error:
            wrong[name] = f"no answer ({error!r})"
            continue
        if not 400 <= response.status_code < 500 or len(response.content) > 4096:
            wrong[name] = f"{response.status_code}: {response.text[:200]}"
    return wrong


# --- worker memory ---------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def peak_growth_mb(server: RunningServer, action: Callable[[], object]) -> float:
    """How far the resident memory of the server's busiest process rose during `action`
    (the kernel's peak-RSS mark is reset first, so earlier peaks do not count)."""
    processes = [server.process.pid, *_descendants(server.process.pid)]
    before = {}
    for pid in processes:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        before[pid] = _status_kb(pid, "VmRSS")
    action()
    return max(_status_kb(pid, "VmHWM") - before[pid] for pid in processes) / 1024


# --- 1. outbound fetches never hold the database -----------------------------------------------


def test_a_dripping_host_neither_locks_the_database_nor_outlasts_the_deadline(
    live, hostile, account, earner
):
    """The import of a badge whose host drips one byte at a time is in flight; meanwhile
    another user creates an issuer and logs in, promptly; the import itself gives up with
    a 4xx at about the fetch deadline."""
    bystander = account("bystander@example.org")
    hostile.routes["/drip/assertion"] = drip(b"{" + b" " * 400 + b"}", every=0.1)
    answer: dict = {}

    def slow_import() -> None:
        started = time.monotonic()
        try:
            answer["response"] = import_badge(earner, url=f"{hostile.url}/drip/assertion")
        finally:
            answer["seconds"] = time.monotonic() - started

    importing = threading.Thread(target=slow_import)
    importing.start()
    for _ in range(50):  # until the live server is reading the dripping answer
        if "/drip/assertion" in hostile.requests:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    started = time.monotonic()
    issuer = bystander.post(
        "/v2/issuers",
        json={"name": "Bystander", "url": "https://by.example.org", "email": "b@by.example.org"},
        timeout=8,
    )
    token = httpx.post(
        f"{live.base_url}/o/token",
        data={"username": "bystander@example.org", "password": PASSWORD},
        timeout=8,
    )
    writes_took = time.monotonic() - started
    import_still_running = importing.is_alive()
    importing.join(timeout=FETCH_DEADLINE + 20)
    assert issuer.status_code == 201, issuer.text
    assert token.status_code == 200, token.text
    assert import_still_running, f"other users' writes waited {writes_took:.1f}s for the import"
    assert "response" in answer, "the import did not finish"
    assert answer["response"].status_code == 400, answer["response"].text
    assert "in time" in description(answer["response"])
    assert answer["seconds"] < FETCH_DEADLINE + 2, f"the import took {answer['seconds']:.1f}s"


# --- 2. decoders are capped --------------------------------------------------------------------


def test_a_baked_png_bomb_is_refused_in_little_memory_and_few_words(live, earner):
    """97 KB of PNG whose `openbadges` iTXt chunk inflates to 100 MB."""
    inflated = zlib.compressobj(9)
    text = b"".join(inflated.compress(b"h" * 1024 * 1024) for _ in range(100)) + inflated.flush()
    bomb = png_with_chunk(b"iTXt", b"openbadges\0\x01\x00\0\0" + text)
    answers = []
    grew = peak_growth_mb(
        live, lambda: answers.append(import_badge(earner, image=png_data_uri(bomb)))
    )
    response = answers[0]
    assert response.status_code == 400, response.text[:300]
    assert len(response.content) < 2048, f"the answer is {len(response.content)} bytes"
    assert grew < 32, f"a worker grew by {grew:.0f} MB"


def test_a_long_carried_url_is_not_echoed_whole(earner):
    image = png_with_chunk(b"iTXt", b"openbadges\0\0\0\0\0" + b"ftp://" + b"a" * 200_000)
    response = import_badge(earner, image=png_data_uri(image))
    assert response.status_code == 400, response.text[:300]
    assert len(response.content) < 2048, f"the answer is {len(response.content)} bytes"


def test_a_gzip_bomb_answer_is_refused_in_little_memory(live, hostile, earner):
    """An assertion host answering `Content-Encoding: gzip` that inflates to 128 MB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = b"".join(packer.compress(b"\0" * 1024 * 1024) for _ in range(128)) + packer.flush()
    headers = {"Content-Type": "application/ld+json", "Content-Encoding": "gzip"}
    hostile.routes["/gzip/assertion"] = (200, headers, body)
    answers = []
    grew = peak_growth_mb(
        live, lambda: answers.append(import_badge(earner, url=f"{hostile.url}/gzip/assertion"))
    )
    assert answers[0].status_code == 400, answers[0].text[:300]
    assert len(answers[0].content) < 2048
    assert grew < 32, f"a worker grew by {grew:.0f} MB"


# --- 3. imported data is untrusted -------------------------------------------------------------


def test_script_urls_in_any_field_are_refused(live, hostile, earner, attacker_key):
    """A signed badge whose id is a javascript: URL, and hosted badges with one in the
    evidence, criteria, issuer url or image: each refused, naming the field; nothing of
    them ever reaches the backpack."""
    script = "javascript:alert(document.domain)//"
    key_url = f"{hostile.url}/js/key"
    documents = badge_documents(hostile, "js")
    documents["issuer"]["publicKey"] = key_url
    documents["key"] = key_document(key_url, documents["issuer"]["id"], attacker_key)
    serve(hostile, "js", documents)
    token = signed(
        attacker_key,
        {
            **documents["assertion"],
            "id": script,
            "verification": {"type": "SignedBadge", "creator": key_url},
        },
    )
    refusals = {"id": import_badge(earner, assertion=token)}
    for field, where, change in [
        ("evidence", "assertion", {"evidence": [{"id": script, "narrative": "see"}]}),
        ("criteria", "badge", {"criteria": {"id": script}}),
        ("url", "issuer", {"url": script}),
        ("image", "badge", {"image": script}),
    ]:
        name = f"js-{field}"
        changed = badge_documents(hostile, name)
        changed[where].update(change)
        refusals[field] = import_badge(earner, url=serve(hostile, name, changed))
    wrong = {
        field: f"{r.status_code} {r.text[:160]}"
        for field, r in refusals.items()
        if r.status_code != 400 or field not in description(r)
    }
    assert not wrong, wrong
    listed = earner.get(
        "/v2/backpack/assertions?include_revoked=true&expand=badgeclass&expand=issuer"
    )
    assert "javascript:" not in listed.text


def test_a_hosted_badge_cannot_claim_an_issuer_on_another_origin(hostile, harvard, earner):
    """The attacker hosts an assertion naming Harvard's real issuer profile (on Harvard's
    origin): refused. Once Harvard's profile allows the attacker's origin
    (`verification.allowedOrigins`), the same badge imports."""
    profile = badge_documents(harvard, "hv")["issuer"] | {"name": "Harvard University"}
    harvard.json("/hv/issuer", profile)
    forged = badge_documents(hostile, "forged-hosted", issuer=profile["id"])
    del forged["issuer"]
    response = import_badge(earner, url=serve(hostile, "forged-hosted", forged))
    assert response.status_code == 400, response.text
    assert "issuer" in description(response)

    authority = hostile.url.split("//", 1)[1]
    harvard.json("/hv/issuer", profile | {"verification": {"allowedOrigins": [authority]}})
    allowed = import_badge(earner, url=f"{hostile.url}/forged-hosted/assertion")
    assert allowed.status_code == 201, allowed.text
    entity_id = allowed.json()["result"][0]["entityId"]
    expanded = earner.get(f"/v2/backpack/assertions/{entity_id}?expand=badgeclass&expand=issuer")
    assert expanded.json()["result"][0]["badgeclass"]["issuer"]["name"] == "Harvard University"


def open_redirect(host: HostileServer, path: str) -> None:
    """An open redirect on `host`, as many real sites have: `path?to=URL` goes to URL."""

    def answer(handler) -> None:
        target = handler.path.split("?to=", 1)[1]
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    host.routes[path] = answer


def test_an_open_redirect_on_the_issuers_site_does_not_lend_its_origin(hostile, harvard, earner):
    """The attacker's assertion calls itself by a URL on Harvard's origin that redirects
    to the attacker's host: the document was not served from Harvard, so it is refused."""
    open_redirect(harvard, "/go")
    profile = badge_documents(harvard, "hr")["issuer"] | {"name": "Harvard University"}
    harvard.json("/hr/issuer", profile)
    forged = badge_documents(hostile, "redirected", issuer=profile["id"])
    del forged["issuer"]
    disguised = f"{harvard.url}/go?to={hostile.url}/redirected/assertion"
    forged["assertion"]["id"] = disguised
    serve(hostile, "redirected", forged)
    response = import_badge(earner, url=disguised)
    assert response.status_code == 400, response.text
    assert "id is not the URL it is hosted at" in description(response)


def test_a_redirect_to_no_url_at_all_is_refused(hostile, earner):
    def answer(handler) -> None:
        handler.send_response(302)
        handler.send_header("Location", "http://[::1")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    hostile.routes["/bad-location"] = answer
    response = import_badge(earner, url=f"{hostile.url}/bad-location")
    assert response.status_code == 400, response.text
    assert "not a URL" in description(response)


def test_a_signed_badge_cannot_claim_an_issuer_that_does_not_list_its_key(
    hostile, harvard, earner, attacker_key, harvard_key
):
    """The attacker signs with a key of their own whose document claims Harvard as owner:
    refused, since Harvard's profile does not list that key. A badge signed with the key
    Harvard lists imports."""
    harvard_key_url = f"{harvard.url}/hs/key"
    profile = badge_documents(harvard, "hs")["issuer"] | {
        "name": "Harvard University",
        "publicKey": [harvard_key_url],
    }
    harvard.json("/hs/issuer", profile)
    harvard.json("/hs/key", key_document(harvard_key_url, profile["id"], harvard_key))

    forged_key_url = f"{hostile.url}/forged-signed/key"
    forged = badge_documents(hostile, "forged-signed", issuer=profile["id"])
    del forged["issuer"]
    forged["key"] = key_document(forged_key_url, profile["id"], attacker_key)
    serve(hostile, "forged-signed", forged)
    payload = forged["assertion"] | {
        "verification": {"type": "SignedBadge", "creator": forged_key_url}
    }
    response = import_badge(earner, assertion=signed(attacker_key, payload))
    assert response.status_code == 400, response.text
    assert "key" in description(response)

    genuine = payload | {
        "id": f"{harvard.url}/hs/assertion-1",
        "verification": {"type": "SignedBadge", "creator": harvard_key_url},
    }
    allowed = import_badge(earner, assertion=signed(harvard_key, genuine))
    assert allowed.status_code == 201, allowed.text


# --- 4. no input gives a 500 -------------------------------------------------------------------


def test_malformed_import_urls_answer_4xx(hostile, earner):
    cases = {
        url: (lambda url=url: import_badge(earner, url=url))
        for url in [
            "http://[::1",
            f"http://{hostile.url.split('//')[1].split(':')[0]}:99999/a",
            "http://127.0.0.2:-1/a",
            "http://[v1.x]/a",
            "http://%zz/a",
            "https://evil.example\\.good.example/a",  # browsers go to evil.example
        ]
    }
    assert not not_4xx(cases), not_4xx(cases)


def _compact(header: bytes, payload: bytes) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(payload)}.c2lnbmF0dXJl"


def test_malformed_signed_badges_answer_4xx(hostile, earner, attacker_key):
    header = b'{"alg":"RS256"}'
    key_url = f"{hostile.url}/jws/key"
    documents = badge_documents(hostile, "jws")
    documents["issuer"]["publicKey"] = key_url
    documents["issuer"]["revocationList"] = 42
    documents["key"] = key_document(key_url, documents["issuer"]["id"], attacker_key)
    serve(hostile, "jws", documents)
    good = documents["assertion"] | {"verification": {"type": "SignedBadge", "creator": key_url}}
    tokens = {
        "bad base64": "eyJhbGciOiJSUzI1NiJ9.!!!!.c2ln",
        "not JSON": _compact(header, b"not json at all"),
        "a list": _compact(header, b"[1, 2]"),
        "a number": _compact(header, b"42"),
        "a string": _compact(header, b'"x"'),
        "deep": _compact(header, b"[" * 60_000 + b"]" * 60_000),
        "huge": _compact(header, b'{"a": "' + b"x" * 3_000_000 + b'"}'),
        "bad header": _compact(b"[" * 60_000, b"{}"),
        "verification a list": signed(attacker_key, good | {"verification": ["SignedBadge"]}),
        "creator a number": signed(attacker_key, good | {"verification": {"creator": 42}}),
        "revocation list a number": signed(attacker_key, good),
        "signed list": signed(attacker_key, b"[1]"),
    }
    cases = {
        name: (lambda token=token: import_badge(earner, assertion=token))
        for name, token in tokens.items()
    }
    assert not not_4xx(cases), not_4xx(cases)


def test_hostile_documents_answer_4xx(hostile, earner):
    changes = {
        "deeply nested": ("assertion", {"narrative": "DEEP"}),
        "recipient a string": ("assertion", {"recipient": EARNER}),
        "verification a list": ("assertion", {"verification": ["HostedBadge"]}),
        "badge a number": ("assertion", {"badge": 42}),
        "badge id a number": ("assertion", {"badge": {"id": 42}}),
        "issuedOn in year 1": ("assertion", {"issuedOn": "0001-01-01T00:00:00+05:00"}),
        "issuedOn in 9999": ("assertion", {"issuedOn": "9999-12-31T23:59:59-05:00"}),
        "issuedOn impossible": ("assertion", {"issuedOn": "2026-02-30T00:00:00Z"}),
        "expires naive": ("assertion", {"expires": "2999-01-01T00:00:00"}),
        "expires a list": ("assertion", {"expires": ["2999-01-01"]}),
        "identity a list": ("assertion", {"recipient": {"type": "email", "identity": [EARNER]}}),
        "evidence a number": ("assertion", {"evidence": 42}),
        "issuer a list": ("badge", {"issuer": ["x"]}),
        "issuer id a number": ("badge", {"issuer": {"id": 42}}),
        "image id a number": ("badge", {"image": {"id": 42}}),
        "criteria a list": ("badge", {"criteria": [1]}),
        "name an object": ("issuer", {"name": {"en": "x"}}),
        "verification policy a number": ("issuer", {"verification": 42}),
    }
    cases = {}
    for number, (name, (where, change)) in enumerate(changes.items()):
        path = f"doc{number}"
        documents = badge_documents(hostile, path)
        documents[where].update(change)
        url = serve(hostile, path, documents)
        if name == "deeply nested":
            hostile.raw(
                f"/{path}/assertion",
                b'{"a": ' + b"[" * 60_000 + b"]" * 60_000 + b"}",
                "application/ld+json",
            )
        cases[name] = lambda url=url: import_badge(earner, url=url)
    assert not not_4xx(cases), not_4xx(cases)


def test_broken_baked_images_answer_4xx(earner):
    images = {
        "iTXt cut short": png_with_chunk(b"iTXt", b"openbadges\0"),
        "iTXt without its tags": png_with_chunk(b"iTXt", b"openbadges\0\0\0"),
        "iTXt corrupt zlib": png_with_chunk(b"iTXt", b"openbadges\0\x01\x00\0\0not zlib"),
        "iTXt unknown method": png_with_chunk(
            b"iTXt", b"openbadges\0\x01\x07\0\0" + zlib.compress(b"https://x.example.org/a")
        ),
        "iTXt not UTF-8": png_with_chunk(b"iTXt", b"openbadges\0\0\0\0\0\xff\xfe\xfd"),
        "zTXt corrupt": png_with_chunk(b"zTXt", b"openbadges\0\0garbage"),
    }
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org" '
        'width="4" height="4"><openbadges:assertion verify="%s"/></svg>'
    )
    cases = {
        name: (lambda image=image: import_badge(earner, image=png_data_uri(image)))
        for name, image in images.items()
    }
    cases["SVG carrying junk"] = lambda: import_badge(
        earner,
        image="data:image/svg+xml;base64,"
        + base64.b64encode((svg % ("a.b.c" + "é" * 10)).encode()).decode(),
    )
    assert not not_4xx(cases), not_4xx(cases)


# --- 5. the outbound address check is complete ------------------------------------------------


def test_non_global_addresses_are_refused_without_saying_where_a_host_points(earner):
    """Literal addresses embedding IPv4 or outside the global unicast space, and a name
    that resolves to loopback: refused as hosts this server does not fetch from, without
    naming what a name resolved to."""
    hosts = [
        "[2002:7f00:2::1]",  # 6to4 around 127.0.0.2
        "[2001:0:4136:e378:8000:63bf:80ff:fffd]",  # Teredo
        "[64:ff9b::7f00:2]",  # NAT64 around 127.0.0.2
        "[fec0::1]",  # site-local
        "[::7f00:2]",  # IPv4-compatible
        "[::ffff:7f00:1]",  # IPv4-mapped loopback
        "[100::1]",  # discard-only
        "[3fff::1]",  # documentation
        "localhost",
    ]
    wrong = {}
    for host in hosts:
        response = import_badge(earner, url=f"http://{host}:8000/a")
        text = description(response) if response.status_code == 400 else response.text
        if (
            response.status_code != 400
            or "does not fetch from" not in text
            or "127.0.0.1" in text
            or "::1" in text.replace(host.strip("[]"), "")
        ):
            wrong[host] = f"{response.status_code} {text[:200]}"
    assert not wrong, wrong
