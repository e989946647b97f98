"""`laurels serve` on a fresh data dir: migrates by itself and answers like production."""

import socket
import sqlite3

import httpx
import pytest

from tests.servers import laurels_server

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with laurels_server(tmp_path_factory.mktemp("home") / "var", workers=2) as running:
        yield running


def test_fresh_home_is_migrated_and_healthy(server):
    response = httpx.get(f"{server.base_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "database_writes": "ok",
        "disk": "ok",
        "failing": [],
    }
    assert (server.home / "laurels.sqlite3").exists()
    assert (server.home / "secret_key").stat().st_mode & 0o077 == 0
    assert "Applying accounts.0001_initial" in server.log()
    assert "Periodic jobs run beside the server" in server.log()


def test_the_embedded_database_file_is_in_wal_mode(server):
    with sqlite3.connect(server.home / "laurels.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_production_server_not_runserver(server):
    response = httpx.get(f"{server.base_url}/healthz")
    assert response.headers["server"] == "granian"


def test_users_self_without_credentials_is_401_in_the_envelope(server):
    response = httpx.get(f"{server.base_url}/v2/users/self")
    assert response.status_code == 401
    assert response.json() == {
        "status": {
            "success": False,
            "description": "Authentication credentials were not provided or are invalid.",
        },
        "result": [],
        "validationErrors": [],
        "fieldErrors": {},
    }


def test_docs_page_and_its_static_files_are_served(server):
    page = httpx.get(f"{server.base_url}/docs")
    assert page.status_code == 200
    assert "swagger-ui" in page.text
    # The Swagger UI bundle comes from our own static files, not a CDN.
    assert "/static/ninja/swagger-ui-bundle" in page.text
    start = page.text.index("/static/ninja/swagger-ui-bundle")
    bundle_path = page.text[start : page.text.index('"', start)]
    bundle = httpx.get(f"{server.base_url}{bundle_path}")
    assert bundle.status_code == 200
    assert len(bundle.content) > 100_000


def test_openapi_document_lists_the_endpoints(server):
    document = httpx.get(f"{server.base_url}/v2/openapi.json").json()
    assert {"/v2/users/self", "/v2/user/profile"} <= set(document["paths"])
    assert set(document["paths"]["/v2/users/self"]) == {"get", "put"}


def test_second_start_on_the_same_home_keeps_data_and_key(server, tmp_path):
    key = (server.home / "secret_key").read_text()
    with laurels_server(server.home) as again:
        assert httpx.get(f"{again.base_url}/healthz").status_code == 200
        assert "No migrations to apply" in again.log()
        assert "Collecting static files" not in again.log()
    assert (server.home / "secret_key").read_text() == key


def test_idle_keep_alive_connections_do_not_block_new_clients(server):
    """Browsers keep connections open; a server that counted them against its request
    limit would stop answering new visitors (found with the OAuth client tests)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    idle = []
    try:
        for _ in range(12):
            connection = socket.create_connection((host, int(port)), timeout=10)
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert b"200 OK" in connection.recv(4096)
            idle.append(connection)  # kept open, idle
        assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200
    finally:
        for connection in idle:
            connection.close()


def test_a_worker_hides_its_start_up_heap_and_checkpoints_in_a_thread(tmp_path):
    """Loading the WSGI application imports every view and freezes what start-up made, so
    full collections walk only what requests make, and starts the thread that checkpoints
    the SQLite log (see laurels/wsgi.py)."""
    import os
    import subprocess
    import sys

    script = (
        "import gc, sys\n"
        "import laurels.wsgi\n"
        "print(gc.get_freeze_count(), 'laurels.api.issuing' in sys.modules,\n"
        "      gc.get_threshold()[0], laurels.wsgi.wal_checkpointer.is_alive())\n"
    )
    env = {
        **os.environ,
        "LAURELS_HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "laurels.settings",
    }
    answer = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    frozen, views_imported, youngest_threshold, checkpointing = answer.stdout.split()
    assert int(frozen) > 10_000
    assert views_imported == "True"
    assert int(youngest_threshold) == 10_000
    assert checkpointing == "True"  # the embedded database's log (laurels.core.sqlite_wal)
