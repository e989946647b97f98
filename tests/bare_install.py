"""Install Laurels without extras into a throw-away virtualenv and serve real requests.

`make test` runs this (as `make bare-install`) so that a module under `src/` importing a
package only the `test` or `bench` extras install fails CI instead of crashing a newcomer's
`make run`. It uses nothing but the standard library, because the point is to run what the
runtime dependencies alone provide:

1. copy `pyproject.toml`, `README.md` and `src/` to a temporary directory and `pip install`
   them (not editable, so the package data is proven too) into a new virtualenv;
2. import every module under `laurels` in that virtualenv;
3. `laurels createuser` and `laurels apps create` a first-party app, then `laurels serve`
   on a free port with a temporary `LAURELS_HOME`;
4. get 200 from `/healthz`, a token by the password grant, `GET /v2/users/self`, create an
   issuer, a badge class and an award through `/v2`, and fetch the hosted assertion;
5. stop the server and remove everything.

Run it by hand with `python3 tests/bare_install.py` (add `--keep` to keep the directory).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bare-install-check-1"
EMAIL = "first-run@example.org"

IMPORT_EVERY_MODULE = """
import importlib, os, pkgutil, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "laurels.settings")
import django
django.setup()
import laurels
failed = []
for module in pkgutil.walk_packages(laurels.__path__, "laurels."):
    if module.name.endswith(".__main__"):
        continue  # runs the command line
    try:
        importlib.import_module(module.name)
    except ImportError as error:
        failed.append(f"{module.name}: {error!r}")
if failed:
    print("\\n".join(failed))
    sys.exit(1)
"""


class CheckFailed(Exception):
    pass


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shown = " ".join(part if "\n" not in part else "<script>" for part in command)
        raise CheckFailed(f"{shown} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tiny_png() -> str:
    """A 1x1 PNG as a data URI, made with zlib (Pillow is not available to this script)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xcc\x99\x33")
    png = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode()


def request(
    method: str,
    url: str,
    *,
    token: str | None = None,
    form: dict | None = None,
    body: dict | None = None,
    accept: str = "application/json",
) -> tuple[int, dict]:
    headers = {"Accept": accept}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    outgoing = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(outgoing, timeout=30) as answer:
            status, text = answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode(errors="replace")
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, {"text": text[:500]}


def expect(status: int, answer: dict, wanted: int, what: str) -> dict:
    if status != wanted:
        raise CheckFailed(f"{what}: expected HTTP {wanted}, got {status}: {answer}")
    print(f"  ok  {what} -> {status}")
    return answer


def install(work: Path) -> Path:
    source = work / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    print("Installing Laurels without extras into a new virtualenv...", flush=True)
    run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-cache-dir", str(source)])
    return venv / "bin"


def wait_healthy(base_url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CheckFailed(f"laurels serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            status, _ = request("GET", f"{base_url}/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise CheckFailed(f"/healthz did not answer 200 within 90 s:\n{log.read_text()}")


def exercise(base_url: str, client_id: str, client_secret: str) -> None:
    expect(*request("GET", f"{base_url}/healthz"), 200, "GET /healthz")
    token = expect(
        *request(
            "POST",
            f"{base_url}/o/token",
            form={
                "grant_type": "password",
                "username": EMAIL,
                "password": PASSWORD,
                "client_id": client_id,
                "client_secret": client_secret,
                "scope": "r:profile rw:issuer",
            },
        ),
        200,
        "POST /o/token (password grant)",
    )["access_token"]
    expect(*request("GET", f"{base_url}/v2/users/self", token=token), 200, "GET /v2/users/self")
    issuer = expect(
        *request(
            "POST",
            f"{base_url}/v2/issuers",
            token=token,
            body={"name": "First Run College", "url": "https://college.example", "email": EMAIL},
        ),
        201,
        "POST /v2/issuers",
    )["result"][0]
    badge_class = expect(
        *request(
            "POST",
            f"{base_url}/v2/issuers/{issuer['entityId']}/badgeclasses",
            token=token,
            body={
                "name": "First Run",
                "description": "Served from a virtualenv with no extras.",
                "image": tiny_png(),
                "criteriaNarrative": "Start Laurels.",
            },
        ),
        201,
        "POST /v2/issuers/{id}/badgeclasses",
    )["result"][0]
    assertion = expect(
        *request(
            "POST",
            f"{base_url}/v2/badgeclasses/{badge_class['entityId']}/assertions",
            token=token,
            body={"recipient": {"identity": "earner@example.org"}},
        ),
        201,
        "POST /v2/badgeclasses/{id}/assertions",
    )["result"][0]
    hosted = expect(
        *request("GET", assertion["openBadgeId"]), 200, "GET the hosted assertion (JSON)"
    )
    if hosted.get("type") != "Assertion" or hosted.get("id") != assertion["openBadgeId"]:
        raise CheckFailed(f"the hosted assertion is not the Open Badges document: {hosted}")
    status, _ = request("GET", assertion["image"], accept="image/png")
    expect(status, {}, 200, "GET the baked image")


def check(work: Path) -> None:
    bin_dir = install(work)
    home = work / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LAURELS_"))}
    env.pop("DATABASE_URL", None)
    env.update(LAURELS_HOME=str(home), PYTHONUNBUFFERED="1")
    print("Importing every module under laurels...", flush=True)
    run([str(bin_dir / "python"), "-c", IMPORT_EVERY_MODULE], env=env)
    print("  ok  every module imports")
    laurels = str(bin_dir / "laurels")
    run([laurels, "manage", "migrate", "--verbosity", "0"], env=env)
    run([laurels, "createuser", EMAIL, "--password", PASSWORD], env=env)
    app = json.loads(
        run(
            [
                laurels, "apps", "create", "--name", "First run check", "--first-party",
                "--scopes", "r:profile rw:issuer", "--json",
            ],
            env=env,
        )
    )  # fmt: skip
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env["LAURELS_BASE_URL"] = base_url
    log = work / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [laurels, "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        print(f"Serving at {base_url}...", flush=True)
        wait_healthy(base_url, process, log)
        exercise(base_url, app["client_id"], app["client_secret"])
        if "Traceback" in log.read_text():
            raise CheckFailed(f"the server logged a traceback:\n{log.read_text()}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="laurels-bare-"))
    try:
        check(work)
    except CheckFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"Kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("Laurels runs from a virtualenv with only its runtime dependencies.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
