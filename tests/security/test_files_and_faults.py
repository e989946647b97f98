"""Files and faults: what an operator's disk does to a live server, and who can read it.

An attacker with a shell account on the machine reads whatever the data directory leaves
readable (the database, the secret key, the OpenID Connect key). A full or read-only disk
must not leave half-written files that are then served for ever, nor hide behind generic
500s while `/healthz` says all is well. Each test starts a real `laurels serve` on a data
directory of its own: on the test machine's disk, or on a small tmpfs mounted for the
test (as root; skipped where mounting is not allowed) so that the disk can really fill up.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from laurels.openbadges.baking import PNG_SIGNATURE, unbake
from tests.factories import png_bytes
from tests.servers import (
    LAURELS,
    RunningServer,
    api_client_for,
    free_port,
    issuer_with_badge,
    laurels_server,
    server_env,
)

pytestmark = pytest.mark.server

EARNER = "earner@example.org"
# Seconds between the health check's real writes to the database, on these servers.
WRITE_CHECK_SECONDS = 1
TMPFS_MB = 64
HEALTH_MIN_FREE_MB = 8


# --- helpers -----------------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, *, size_mb: int = TMPFS_MB, read_only: bool = False) -> Iterator[Path]:
    """A small tmpfs mounted at `path` (mode 0755, as a data directory made by hand is)."""
    path.mkdir(parents=True)
    options = f"size={size_mb}m,mode=0755" + (",ro" if read_only else "")
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False)


@contextlib.contextmanager
def disk_filled(home: Path, *, leave_mb: int = 0) -> Iterator[None]:
    """Fill the file system of `home` with one file until `leave_mb` are free (or it is
    full); the file is removed afterwards."""
    filler = home / "filler"
    block = b"\0" * (1024 * 1024)
    try:
        with filler.open("wb") as out:
            while shutil.disk_usage(home).free > leave_mb * 1024 * 1024:
                room = shutil.disk_usage(home).free - leave_mb * 1024 * 1024
                try:
                    out.write(block[: max(1, min(len(block), room))])
                    out.flush()
                except OSError as error:
                    assert error.errno == errno.ENOSPC
                    break
        yield
    finally:
        filler.unlink(missing_ok=True)


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """`chattr +i` on each path (which even root cannot then write); undone afterwards."""
    done = []
    try:
        for path in paths:
            result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
            if result.returncode != 0:
                pytest.skip(f"chattr +i is not possible here: {result.stderr.strip()}")
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=False)


def health_until(server: RunningServer, status: int, timeout: float = 15) -> httpx.Response:
    """Poll /healthz until it answers `status` (the write check is throttled)."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{server.base_url}/healthz", timeout=10)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.3)


def everything_under(home: Path) -> list[Path]:
    return [home, *sorted(home.rglob("*"))]


def open_to_others(home: Path) -> list[str]:
    """Files and directories under `home` that anyone but the owner may read or enter."""
    return [
        f"{path} {stat.filemode(path.lstat().st_mode)}"
        for path in everything_under(home)
        if not path.is_symlink() and path.lstat().st_mode & 0o077
    ]


def award_and_image(api: httpx.Client, name: str) -> tuple[dict, dict, str]:
    """An issuer, a badge class and an award made through the API; the award's image URL."""
    _, badge = issuer_with_badge(api, name)
    award = api.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions",
        json={"recipient": {"identity": EARNER}},
    ).json()["result"][0]
    return badge, award, f"{api.base_url}/public/assertions/{award['entityId']}/image"


def upload_badge_image(api: httpx.Client, badge: dict) -> httpx.Response:
    return api.put(
        f"/v2/badgeclasses/{badge['entityId']}/image",
        files={"image": ("new.png", png_bytes((96, 96), "teal"), "image/png")},
    )


def laurels_command(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LAURELS), *args],
        env=server_env(home, LAURELS_BASE_URL="http://127.0.0.1:8000"),
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Iterator[RunningServer]:
    """A default server, two workers, on a new data directory on the machine's disk."""
    home = tmp_path_factory.mktemp("files") / "var"
    with laurels_server(
        home, workers=2, LAURELS_HEALTH_WRITE_CHECK_SECONDS=str(WRITE_CHECK_SECONDS)
    ) as server:
        yield server


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory) -> Iterator[RunningServer]:
    """A server whose data directory is a 64 MB tmpfs, so that it can really fill up."""
    with tmpfs(tmp_path_factory.mktemp("faults") / "var") as home:  # noqa: SIM117
        with laurels_server(
            home,
            LAURELS_HEALTH_MIN_FREE_MB=str(HEALTH_MIN_FREE_MB),
            LAURELS_HEALTH_WRITE_CHECK_SECONDS=str(WRITE_CHECK_SECONDS),
        ) as server:
            yield server


# --- permissions -------------------------------------------------------------------------------


def test_the_data_directory_and_every_file_in_it_are_private(fresh):
    """Another account on the machine reads nothing: the directory is 0700 and each file
    the server writes (database and its log, keys, uploads, baked images, static) 0600."""
    api = api_client_for(fresh, "owner@example.org")
    badge, _, image_url = award_and_image(api, "Private College")
    assert upload_badge_image(api, badge).status_code == 200
    assert httpx.get(image_url).status_code == 200  # bakes the award's image

    home = fresh.home
    for name in ("laurels.sqlite3", "laurels.sqlite3-wal", "laurels.sqlite3-shm"):
        assert (home / name).exists(), name
    assert list((home / "media" / "badges").iterdir())
    assert list((home / "media" / "baked").iterdir())
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert open_to_others(home) == []


def test_an_existing_install_is_made_private_at_start_up(tmp_path):
    """A data directory left readable by an earlier version is closed at the next start."""
    home = tmp_path / "var"
    (home / "media" / "badges").mkdir(parents=True)
    (home / "laurels.sqlite3").touch()  # an empty file is an empty SQLite database
    (home / "secret_key").write_text("an old key that everybody could read")
    (home / "media" / "badges" / "old.png").write_bytes(png_bytes())
    for path in everything_under(home):
        path.chmod(0o755 if path.is_dir() else 0o644)

    with laurels_server(home):
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert open_to_others(home) == []


def test_an_empty_baked_image_left_by_an_earlier_version_is_baked_again(fresh):
    """Before writes were atomic a failed bake left an empty file under the bake's name,
    which was then served as the badge image for ever."""
    api = api_client_for(fresh, "rebake@example.org")
    _, award, image_url = award_and_image(api, "Rebake College")
    assert httpx.get(image_url).status_code == 200
    [baked] = [
        path
        for path in (fresh.home / "media" / "baked").iterdir()
        if path.name.startswith(award["entityId"])
    ]
    baked.write_bytes(b"")

    answer = httpx.get(image_url)
    assert answer.status_code == 200
    assert answer.content.startswith(PNG_SIGNATURE)
    assert baked.stat().st_size == len(answer.content)


def test_a_stored_file_whose_write_fails_half_way_is_not_left_behind(tmp_path):
    """Django's default storage, as configured: a write that fails after some bytes (a
    disk that fills up mid-file) leaves neither the file nor a temporary one."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    class FillsUpHalfWay(ContentFile):
        def chunks(self, chunk_size=None):
            yield b"half of an image" * 64
            raise OSError(errno.ENOSPC, "No space left on device")

    storage = type(storages["default"])(location=tmp_path)
    with pytest.raises(OSError, match="No space left"):
        storage.save("baked/award.png", FillsUpHalfWay(b""))
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []

    first = storage.save("baked/award.png", ContentFile(b"first"))
    second = storage.save("baked/award.png", ContentFile(b"second"))  # never overwritten
    assert first != second
    assert (tmp_path / first).read_bytes() == b"first"
    assert (tmp_path / second).read_bytes() == b"second"
    assert stat.S_IMODE((tmp_path / first).stat().st_mode) == 0o600
    assert sorted(path.name for path in (tmp_path / "baked").iterdir()) == sorted(
        [Path(first).name, Path(second).name]
    )


# --- a full disk ---------------------------------------------------------------------------------


def test_a_bake_on_a_full_disk_leaves_no_file_and_answers_503(small_disk):
    """The image that failed to bake is not left behind as an empty file that would be
    served as the badge for ever; once there is room again it bakes whole."""
    api = api_client_for(small_disk, "baker@example.org")
    _, award, image_url = award_and_image(api, "Full Disk College")
    baked = small_disk.home / "media" / "baked"

    with disk_filled(small_disk.home):
        answer = httpx.get(image_url)
        left = {p.name: p.stat().st_size for p in baked.iterdir()} if baked.exists() else {}
        assert left == {}
        assert answer.status_code == 503, answer.text
        assert "storage" in answer.text.lower()

    answer = httpx.get(image_url)
    assert answer.status_code == 200
    assert answer.content.startswith(PNG_SIGNATURE)
    assert unbake(answer.content).endswith(f"/public/assertions/{award['entityId']}")
    assert all(path.stat().st_size > 0 for path in baked.iterdir())


def test_an_upload_on_a_full_disk_is_a_503_in_the_envelope_and_changes_nothing(small_disk):
    api = api_client_for(small_disk, "uploader@example.org")
    badge, _, _ = award_and_image(api, "Upload College")
    images = small_disk.home / "media" / "badges"
    before = {path.name: path.read_bytes() for path in images.iterdir()}

    with disk_filled(small_disk.home):
        answer = upload_badge_image(api, badge)
        assert answer.status_code == 503, answer.text
        assert answer.json()["status"]["success"] is False
        assert "storage" in answer.json()["status"]["description"].lower()
        assert {path.name: path.read_bytes() for path in images.iterdir()} == before

    stored = api.get(f"/v2/badgeclasses/{badge['entityId']}").json()["result"][0]
    image = httpx.get(stored["image"])
    assert image.status_code == 200
    assert image.content.startswith(PNG_SIGNATURE)
    assert upload_badge_image(api, badge).status_code == 200  # and works once there is room


# --- health ----------------------------------------------------------------------------------


def test_healthz_names_low_disk_space(small_disk):
    assert health_until(small_disk, 200).json()["disk"] == "ok"
    with disk_filled(small_disk.home, leave_mb=HEALTH_MIN_FREE_MB // 2):
        answer = health_until(small_disk, 503)
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "unavailable"
        assert body["disk"] == "low"
        assert body["failing"] == ["disk"]
        assert body["database"] == "ok"
    assert health_until(small_disk, 200).status_code == 200


def test_healthz_names_a_database_that_cannot_write(fresh):
    """The database answers reads, but no write can land (here: its files made immutable,
    as a disk that went bad or read-only would): the balancer must take the node out."""
    ok = health_until(fresh, 200).json()
    assert ok["status"] == "ok"
    assert ok["database"] == "ok"
    assert ok["database_writes"] == "ok"
    database = fresh.home / "laurels.sqlite3"
    with immutable(database, database.with_name("laurels.sqlite3-wal")):
        answer = health_until(fresh, 503)
        assert answer.status_code == 503
        body = answer.json()
        assert body["database_writes"] == "failing"
        assert "database_writes" in body["failing"]
    assert health_until(fresh, 200).json()["database_writes"] == "ok"


# --- a data directory that cannot be written ----------------------------------------------------


def assert_one_clear_line(result: subprocess.CompletedProcess, home: Path) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "LAURELS_HOME" in lines[0]
    assert str(home) in lines[0]


def test_serve_and_check_on_a_read_only_data_directory_stop_with_one_line(tmp_path):
    with tmpfs(tmp_path / "var", size_mb=1, read_only=True) as home:
        serve = laurels_command(home, "serve", "--port", str(free_port()), "--workers", "1")
        assert_one_clear_line(serve, home)
        assert "read-only" in serve.stderr.lower()
        assert_one_clear_line(laurels_command(home, "check"), home)


def test_serve_and_check_on_a_data_directory_that_cannot_be_made_stop_with_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    home = tmp_path / "a-file" / "var"
    assert_one_clear_line(laurels_command(home, "serve", "--port", str(free_port())), home)
    assert_one_clear_line(laurels_command(home, "check"), home)


def test_serve_on_a_database_that_takes_no_writes_stops_with_one_line(tmp_path):
    home = tmp_path / "var"
    assert laurels_command(home, "manage", "migrate", "--verbosity", "0").returncode == 0
    with immutable(home / "laurels.sqlite3"):
        serve = laurels_command(home, "serve", "--port", str(free_port()), "--workers", "1")
    assert_one_clear_line(serve, home)
    assert "readonly database" in serve.stderr
