"""After `laurels import-badgr`, an award's old Badgr URL passes the official Open Badges
2.0 validator: a live Laurels, whose LAURELS_BADGR_ORIGIN is the "old server"
(http://localhost:PORT, the same server under another host), imports a Badgr dumpdata
export through the command line and serves the award where Badgr did."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.badgr.test_import import AWARD_ID, BADGE_ID, badgr_media, badgr_rows, write_dumpdata
from tests.openbadges.test_official_validator import errors, validate
from tests.servers import LAURELS, RunningServer, laurels_server, server_env

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def laurels(tmp_path_factory):
    home = tmp_path_factory.mktemp("badgr-import") / "var"
    with laurels_server(
        home, LAURELS_ALLOWED_HOSTS="127.0.0.1", LAURELS_BADGR_ORIGIN="http://localhost"
    ) as server:
        server.old = server.base_url.replace("127.0.0.1", "localhost")
        yield server


def import_badgr(server: RunningServer, *args: str) -> str:
    """`laurels import-badgr` on the server's data dir, with LAURELS_BADGR_ORIGIN the old
    origin exactly (port included), as the command requires; its standard output."""
    env = server_env(server.home, LAURELS_BASE_URL=server.base_url, LAURELS_BADGR_ORIGIN=server.old)
    result = subprocess.run(
        [str(LAURELS), "import-badgr", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_an_imported_awards_old_url_passes_the_official_validator(laurels, tmp_path):
    export = tmp_path / "badgr.json"
    write_dumpdata(export, badgr_rows())
    media = badgr_media(tmp_path)
    output = import_badgr(laurels, "--dumpdata", str(export), "--media", str(media))
    assert "award: 3 imported" in output, output

    old_url = f"{laurels.old}/public/assertions/{AWARD_ID}"
    document = httpx.get(old_url, headers={"Accept": "application/json"}).json()
    assert (document["id"], document["badge"]) == (
        old_url,
        f"{laurels.old}/public/badges/{BADGE_ID}",
    )
    report = validate(old_url)
    assert report["report"]["valid"] is True, errors(report)
    assert report["report"]["errorCount"] == 0
