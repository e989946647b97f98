"""The official Open Badges validator (validator core 1.1.2) against a live Laurels on
loopback: hosted URL, baked PNG, baked SVG, signed JWS, and an expired award."""

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.servers import (
    LAURELS,
    api_client_for,
    issuer_with_badge,
    laurels_server,
    server_env,
)

pytestmark = pytest.mark.server
ROOT = Path(__file__).parents[2]
VALIDATOR = ROOT / ".venv-validator" / "bin" / "python"
HARNESS = Path(__file__).with_name("validator_harness.py")
SVG = (
    'data:image/svg+xml;utf8,<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    '<circle cx="32" cy="32" r="30" fill="gold"/></svg>'
)


def validate(target: str) -> dict:
    if not VALIDATOR.exists():
        pytest.skip("the Open Badges validator is not installed (make validator)")
    result = subprocess.run(
        [str(VALIDATOR), str(HARNESS), target], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def errors(report: dict) -> list[str]:
    return [m["result"] for m in report["report"]["messages"] if m["messageLevel"] == "ERROR"]


@pytest.fixture(scope="module")
def laurels(tmp_path_factory):
    with laurels_server(tmp_path_factory.mktemp("ob") / "var") as server:
        env = server_env(server.home, LAURELS_BASE_URL=server.base_url)
        client = api_client_for(server, "issuer@example.org")
        server.api = client
        server.env = env
        yield server
        client.close()


def make_issuer(server, image: str | None = None) -> dict:
    issuer, badge = issuer_with_badge(
        server.api,
        "Validator Academy",
        badge_name="Verified",
        image=image,
        description="Passes the official validator.",
        criteria="Be **valid**.",
    )
    return {"issuer": issuer, "badge": badge}


def award(server, badge: dict, **extra) -> dict:
    response = server.api.post(
        f"/v2/badgeclasses/{badge['entityId']}/assertions",
        json={"recipient": {"identity": "learner@example.org"}, **extra},
    )
    assert response.status_code == 201, response.text
    return response.json()["result"][0]


def download(server, assertion: dict, path: Path) -> Path:
    path.write_bytes(httpx.get(assertion["image"]).content)
    return path


def test_hosted_assertion_url(laurels):
    made = make_issuer(laurels)
    report = validate(award(laurels, made["badge"])["openBadgeId"])
    assert report["report"]["valid"] is True, errors(report)
    assert report["report"]["errorCount"] == 0


def test_baked_png(laurels, tmp_path):
    made = make_issuer(laurels)
    image = download(laurels, award(laurels, made["badge"]), tmp_path / "baked.png")
    report = validate(str(image))
    assert report["report"]["valid"] is True, errors(report)


def test_baked_svg(laurels, tmp_path):
    made = make_issuer(laurels, image=SVG)
    image = download(laurels, award(laurels, made["badge"]), tmp_path / "baked.svg")
    report = validate(str(image))
    assert report["report"]["valid"] is True, errors(report)


def test_signed_assertion(laurels, tmp_path):
    made = make_issuer(laurels)
    subprocess.run(
        [str(LAURELS), "signing", "enable", made["issuer"]["entityId"]],
        env=laurels.env,
        check=True,
        capture_output=True,
    )
    image = download(laurels, award(laurels, made["badge"]), tmp_path / "signed.png")
    from laurels.openbadges.baking import unbake

    jws = unbake(image.read_bytes())
    assert jws.count(".") == 2
    report = validate(jws)
    assert report["report"]["valid"] is True, errors(report)
    assert report["graph"][0]["verification"]["type"] == "SignedBadge"


def test_expired_assertion_is_reported_expired(laurels):
    made = make_issuer(laurels)
    past = datetime.now(UTC) - timedelta(days=30)
    expired = award(
        laurels,
        made["badge"],
        issuedOn=past.isoformat(),
        expires=(past + timedelta(days=1)).isoformat(),
    )
    report = validate(expired["openBadgeId"])
    assert report["report"]["valid"] is False
    assert any("expire" in message.lower() for message in errors(report)), errors(report)
