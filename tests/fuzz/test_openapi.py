"""Property-based fuzzing of every /v2 operation in the OpenAPI document (`make fuzz`).

Schemathesis reads `/v2/openapi.json` from a real `laurels serve` and, for every
operation, sends the document's examples, boundary cases of each parameter ("coverage")
and `FUZZ_EXAMPLES` generated requests, valid and invalid on purpose, from a fixed seed:
once with a Bearer token, once with no credentials. The property: no answer is a 5xx,
and every answer is JSON in the /v2 envelope (`hooks.py`). Last, the server's log must
hold no traceback, since a fault answered with a 4xx still shows there.

Not collected by a plain `pytest` (`norecursedirs`): run it with `make fuzz`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import RunningServer

pytestmark = pytest.mark.server

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS = Path(__file__).with_name("hooks.py")
# The same requests on every run, so a failure comes back on the next; another seed
# (`make fuzz FUZZ_SEED=7`) or more requests per operation and caller
# (`make fuzz FUZZ_EXAMPLES=500`) explore further.
SEED = int(os.environ.get("FUZZ_SEED", "20261130"))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
RUN_SECONDS = 600


def fuzz(server: RunningServer, real_ids: dict[str, str], workdir: Path, *headers: str) -> None:
    """One schemathesis run over the whole document; fails with its report. It runs in
    a fresh `workdir`, where its caches go: nothing is kept or replayed between runs."""
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{server.base_url}/v2/openapi.json",
        f"--url={server.base_url}",
        "--phases=examples,coverage,fuzzing",
        "--checks=not_a_server_error,in_the_envelope",
        f"--seed={SEED}",
        f"--max-examples={EXAMPLES}",
        # One worker: with two threads, Hypothesis describing lambdas calls ast.parse
        # concurrently, which CPython 3.11 can fail with "AST constructor recursion depth
        # mismatch" (a runtime error of the fuzzer, not of Laurels).
        "--workers=1",
        "--generation-database=none",
        "--suppress-health-check=all",
        "--request-timeout=30",
        "--no-color",
        *(f"--header={header}" for header in headers),
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "FUZZ_REAL_IDS": json.dumps(real_ids),
    }
    run = subprocess.run(
        command,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    print(run.stdout[-4000:])
    assert run.returncode == 0, f"{run.stdout[-30000:]}\n{run.stderr[-5000:]}"


def test_every_operation_as_a_user(fuzz_server, fuzzer, real_ids, tmp_path):
    token = fuzzer.headers["Authorization"]
    fuzz(fuzz_server, real_ids, tmp_path, f"Authorization: {token}")


def test_every_operation_anonymously(fuzz_server, real_ids, tmp_path):
    fuzz(fuzz_server, real_ids, tmp_path)


def test_the_server_logged_no_traceback(fuzz_server):
    log = fuzz_server.log()
    assert "Traceback" not in log, log[max(0, log.index("Traceback") - 2000) :][:8000]
