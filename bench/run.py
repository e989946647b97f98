"""`make bench`: seed, serve, load with wrk, and report ratios to a floor measured in the
same run. See docs/performance.md.

    python bench/run.py [--scale 10k|100k|1m] [--duration 5]

With --scale 1m the GET scenarios also run on a 10k data set, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
WORKERS = max(1, os.cpu_count() or 1)  # what `laurels serve` uses by default


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited early (code {process.returncode})")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in time")


@contextmanager
def running(command: list[str], env: dict, health_url: str):
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_healthy(health_url, process)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def peak_rss_mb(pid: int) -> float:
    """The summed peak resident memory (VmHWM) of a process and its descendants."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except (OSError, AttributeError):
            continue
    return round(total / 1024, 1)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The server whose processes' CPU time each measured wrk run is charged to (measure()).
SERVER = {"pid": None}


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants so far (the
    server's own counters, from /proc): the workers' cost, whatever the load's rate."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            # utime, stime, and those of its children that exited (a respawned worker)
            total += sum(int(ticks) for ticks in fields[11:15]) / CLOCK_TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, IndexError, ValueError):
            continue
    return total


# --- wrk -------------------------------------------------------------------------------------


WRK_THREADS = 2
# Connections of the write scenarios (token refresh, one award): each runs at both.
WRITE_CONNECTIONS = (8, 32)
# Unmeasured load before each scenario meant to be warm.
WARMUP_SECONDS = 1.0
# Rounds of each warm GET scenario (see get_scenarios).
ROUNDS = 3
# Seconds of each round's one-connection pass, which times requests on an idle server.
LIGHT_SECONDS = 3


def lua_for(
    method: str = "GET",
    headers: dict | None = None,
    body: str | None = None,
    paths: list[str] | None = None,
    bodies: list[str] | None = None,
    paths_once: list[str] | None = None,
    bearer_tokens: list[str] | None = None,
) -> str:
    lines = [f'wrk.method = "{method}"']
    for name, value in (headers or {}).items():
        lines.append(f'wrk.headers["{name}"] = {json.dumps(value)}')
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    if paths:
        lines.append("local paths = " + "{" + ",".join(json.dumps(p) for p in paths) + "}")
        lines.append("local i = math.random(#paths)")
        lines.append("request = function() i = i % #paths + 1 return wrk.format(nil, paths[i]) end")
    if bodies:
        # Each body is sent once: thread k of WRK_THREADS takes bodies k, k + n, k + 2n, ...
        lines.append("local bodies = " + "{" + ",".join(json.dumps(b) for b in bodies) + "}")
        lines.append("local threads = 0")
        lines.append(
            'function setup(thread) thread:set("offset", threads) threads = threads + 1 end'
        )
        lines.append("local j = -1")
        lines.append(
            "request = function() j = j + 1 return wrk.format(nil, nil, nil, "
            f"bodies[(j * {WRK_THREADS} + offset) % #bodies + 1]) end"
        )
    if paths_once or bearer_tokens:
        # Each path (or token) once, as for bodies: thread k takes k, k + n, k + 2n, ...
        items, make = (
            (paths_once, "wrk.format(nil, items[n])")
            if paths_once
            else (bearer_tokens, 'wrk.format(nil, nil, {Authorization = "Bearer " .. items[n]})')
        )
        lines.append("local items = " + "{" + ",".join(json.dumps(i) for i in items) + "}")
        lines.append("local threads = 0")
        lines.append(
            'function setup(thread) thread:set("offset", threads) threads = threads + 1 end'
        )
        lines.append("local j = -1")
        lines.append(
            f"request = function() j = j + 1 local n = (j * {WRK_THREADS} + offset) % #items + 1 "
            f"return {make} end"
        )
    return "\n".join(lines) + "\n"


def wrk(
    url: str,
    duration: float,
    connections: int = 32,
    lua: str | None = None,
    warmup: float = 0,
    threads: int = WRK_THREADS,
) -> dict:
    """Load `url` for `duration` seconds; with `warmup`, first for that long unmeasured
    (a scenario that is meant to be warm should not time the server's first requests)."""
    if warmup:
        wrk(url, warmup, connections, lua, threads=threads)
    seconds = max(1, round(duration))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    with tempfile.TemporaryDirectory(prefix="laurels-wrk-") as scripts:
        if lua:
            script = Path(scripts) / "scenario.lua"
            script.write_text(lua)
            command[1:1] = ["-s", str(script)]
        cpu_before = tree_cpu_seconds(SERVER["pid"]) if SERVER["pid"] else None
        run = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
        cpu_after = tree_cpu_seconds(SERVER["pid"]) if SERVER["pid"] else None
    result = parse_wrk(run.stdout)
    if cpu_before is not None and result["requests"]:
        result["cpu_ms"] = round((cpu_after - cpu_before) * 1000 / result["requests"], 3)
    return result


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def parse_wrk(output: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    requests = re.search(r"(\d+) requests in", output)
    return {
        "requests": int(requests.group(1)) if requests else 0,
        "rps": round(rps, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


# --- one data set ----------------------------------------------------------------------------


def seed(home: Path, awards: int, refresh_tokens: int, base: str) -> dict:
    out = home / "seed.json"
    # The server's base URL: the kept documents and pages are keyed by it.
    env = {
        **os.environ,
        "LAURELS_HOME": str(home),
        "LAURELS_JOBS_IN_PROCESS": "false",
        "LAURELS_BASE_URL": base,
    }
    log(f"Seeding {awards:,} awards into {home} ...")
    subprocess.run(
        [
            str(BIN / "python"),
            str(ROOT / "bench" / "seed.py"),
            "--awards",
            str(awards),
            "--refresh-tokens",
            str(refresh_tokens),
            "--out",
            str(out),
        ],
        env=env,
        check=True,
    )
    return json.loads(out.read_text())


def get_scenarios(
    base: str, data: dict, earner_token: str, owner_token: str, duration: float
) -> dict:
    """The GET scenarios; the backpack is the earner's, the issuer's awards the owner's.

    Warm scenarios are loaded ROUNDS times, in turn, and each figure is the median of the
    rounds: on two shared cores, a p99 of a few milliseconds is set by how the scheduler
    interleaves wrk and the workers in those seconds, and one round can be several times
    another for the same code. Each round also times the scenario over one connection
    (requests one after another, the server otherwise idle): its p99 is the request's own
    cost, which is what a growing data set could change, and the scaling check uses it.
    """
    assertion = data["assertion"]
    accept_ld = {"Accept": "application/ld+json"}
    # What a browser sends: without it a public document is JSON (as Badgr answered).
    accept_page = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    earner = {"Authorization": f"Bearer {earner_token}"}
    owner = {"Authorization": f"Bearer {owner_token}"}
    cold_paths = [f"/public/assertions/{a}" for a in data["assertion_sample"]]
    first_page = f"{base}/v2/issuers/{data['issuer']}/assertions?num=100"
    warm = {
        "assertion_json_warm": (
            f"{base}/public/assertions/{assertion}",
            lua_for(headers=accept_ld),
        ),
        "assertion_html": (f"{base}/public/assertions/{assertion}", lua_for(headers=accept_page)),
        "backpack_list": (f"{base}/v2/backpack/assertions", lua_for(headers=earner)),
        "issuer_assertions_deep": (
            f"{base}/v2/issuers/{data['issuer']}/assertions?num=100&cursor={data['deep_cursor']}",
            lua_for(headers=owner),
        ),
        "baked_png_cached": (f"{base}/public/assertions/{assertion}/image", None),
        # One object, Bearer-authenticated: nothing of these answers is kept.
        "get_users_self": (f"{base}/v2/users/self", lua_for(headers=owner)),
        "get_issuer": (f"{base}/v2/issuers/{data['issuer']}", lua_for(headers=owner)),
        "get_badge_class": (
            f"{base}/v2/badgeclasses/{data['badge_class']}",
            lua_for(headers=owner),
        ),
        "get_assertion": (f"{base}/v2/assertions/{data['award']}", lua_for(headers=owner)),
    }
    results = cold_working_set(base, data, accept_ld, accept_page, duration)
    # Cold means the first request for each award: every pass, with full load or over one
    # connection, takes its own slice of the sample (at ~2,000 req/s a 1 s pass needs
    # fewer requests than a slice has). So does the new-token scenario, with its tokens.
    slices = [cold_paths[k :: 2 * ROUNDS] for k in range(2 * ROUNDS)]
    token_slices = [data["new_tokens"][k :: 2 * ROUNDS] for k in range(2 * ROUNDS)]
    names = ["assertion_json_cold", *warm, "list_first_page_new_token"]
    rounds: dict[str, list[dict]] = {name: [] for name in names}
    for number in range(ROUNDS):
        fresh, fresh_too = slices[2 * number], slices[2 * number + 1]
        measured = wrk(base, min(duration, 1.0), lua=lua_for(headers=accept_ld, paths=fresh))
        rounds["assertion_json_cold"].append(
            with_one_connection_pass(measured, base, lua_for(headers=accept_ld, paths=fresh_too))
        )
        for name, (url, lua) in warm.items():
            warmup = WARMUP_SECONDS if number == 0 else 0
            measured = wrk(url, duration, lua=lua, warmup=warmup)
            rounds[name].append(with_one_connection_pass(measured, url, lua))
        if data["new_tokens"]:
            tokens, tokens_too = token_slices[2 * number], token_slices[2 * number + 1]
            measured = wrk(first_page, min(duration, 3.0), lua=lua_for(bearer_tokens=tokens))
            measured["tokens_reused"] = measured["requests"] > len(tokens)
            rounds["list_first_page_new_token"].append(
                with_one_connection_pass(measured, first_page, lua_for(bearer_tokens=tokens_too))
            )
    results.update(
        {name: median_of_rounds(measured) for name, measured in rounds.items() if measured}
    )
    order = [
        "assertion_json_warm",
        "assertion_json_cold",
        "assertion_json_cold_100k",
        "assertion_html_cold_100k",
        *list(warm)[1:],
        "list_first_page_new_token",
    ]
    return {name: results[name] for name in order if name in results}


def cold_working_set(
    base: str, data: dict, accept_ld: dict, accept_page: dict, duration: float
) -> dict:
    """Hosted JSON, then the public HTML page, over the working set: distinct awards
    none of which was requested before (each wrk thread takes its own share, once).
    Only from SCALE=100k: at 10k there is no such working set."""
    paths = [f"/public/assertions/{a}" for a in data["working_set"]]
    if not paths:
        return {}
    results = {}
    for name, headers in (
        ("assertion_json_cold_100k", accept_ld),
        ("assertion_html_cold_100k", accept_page),
    ):
        measured = wrk(base, duration, lua=lua_for(headers=headers, paths_once=paths))
        measured["repeated"] = measured["requests"] > len(paths)
        results[name] = measured
    return results


def with_one_connection_pass(measured: dict, url: str, lua: str | None) -> dict:
    """`measured` (a full-load result) with the p50 and p99 of LIGHT_SECONDS of requests
    over one connection, one after another."""
    light = wrk(url, LIGHT_SECONDS, connections=1, lua=lua, threads=1)
    measured.update(light_p50_ms=light["p50_ms"], light_p99_ms=light["p99_ms"])
    measured["non_2xx"] += light["non_2xx"]
    return measured


def median_of_rounds(rounds: list[dict]) -> dict:
    """Each figure's median over the rounds; non-2xx answers of all rounds added up."""
    figures = ("rps", "p50_ms", "p99_ms", "light_p50_ms", "light_p99_ms", "cpu_ms")
    return {
        **{
            figure: statistics.median(r[figure] for r in rounds)
            for figure in figures
            if all(figure in r for r in rounds)
        },
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "rounds": rounds,
    }


def write_scenarios(base: str, data: dict, owner_token: str, duration: float) -> dict:
    results = {}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    refresh_bodies = [
        f"grant_type=refresh_token&client_id=public&refresh_token={t}"
        for t in data["refresh_tokens"]
    ]
    award = json.dumps({"recipient": {"identity": "bench-single@example.org"}})
    headers = {"Authorization": f"Bearer {owner_token}", "Content-Type": "application/json"}
    # Writers under contention: SQLite takes one writer at a time, whichever process.
    for connections in WRITE_CONNECTIONS:
        # Each refresh token once: the two runs take halves of them.
        half = refresh_bodies[connections == WRITE_CONNECTIONS[-1] :: 2]
        results[f"token_refresh_c{connections}"] = wrk(
            f"{base}/o/token",
            min(duration, 3.0),
            connections=connections,
            lua=lua_for("POST", headers=form, bodies=half),
        )
        results[f"award_single_c{connections}"] = wrk(
            f"{base}/v2/badgeclasses/{data['badge_class']}/assertions",
            duration,
            connections=connections,
            lua=lua_for("POST", headers=headers, body=award),
        )
    log_in = urlencode(
        {
            "grant_type": "password",
            "client_id": "public",
            "username": data["earner"],
            "password": data["password"],
        }
    )
    results["password_log_in"] = wrk(
        f"{base}/o/token",
        min(duration, 3.0),
        connections=8,
        lua=lua_for("POST", headers=form, body=log_in),
    )
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        path = f"/v2/badgeclasses/{data['badge_class']}/assertions"
        started = time.perf_counter()
        for n in range(500):
            client.post(path, content=json.dumps({"recipient": {"identity": f"s{n}@example.org"}}))
        sequential_rate = 500 / (time.perf_counter() - started)
        batch = {
            "assertions": [{"recipient": {"identity": f"b{n}@example.org"}} for n in range(10_000)]
        }
        started = time.perf_counter()
        answer = client.post(f"/v2/badgeclasses/{data['badge_class']}/issue", json=batch)
        batch_seconds = time.perf_counter() - started
        assert answer.status_code == 201, answer.text[:300]
        results["award_batch_10k"] = {
            "awards_per_s": round(10_000 / batch_seconds, 1),
            "sequential_single_awards_per_s": round(sequential_rate, 1),
            "ratio_to_sequential": round(10_000 / batch_seconds / sequential_rate, 1),
        }
        fresh = [a for a in data["assertion_sample"][:200]]
        started = time.perf_counter()
        for entity_id in fresh:
            client.get(f"/public/assertions/{entity_id}/image")
        results["baked_png_first"] = {
            "rps": round(len(fresh) / (time.perf_counter() - started), 1),
            "note": "200 first requests made one after another (each bakes)",
        }
    return results


def token_for(base: str, email: str, password: str) -> str:
    answer = httpx.post(
        f"{base}/o/token", data={"username": email, "password": password}, timeout=60
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def measure(scale_name: str, awards: int, duration: float, with_writes: bool) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"laurels-bench-{scale_name}-"))
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        data = seed(home, awards, refresh_tokens=20_000 if with_writes else 0, base=base)
        # Seeding a million awards leaves a gigabyte of dirty pages; measured while the
        # kernel writes them back, every commit and p99 waits on the disk.
        log("Writing the seeded data to disk ...")
        os.sync()
        env = {
            **os.environ,
            "LAURELS_HOME": str(home),
            "LAURELS_JOBS_IN_PROCESS": "false",
            "LAURELS_BASE_URL": base,
        }
        log("Counting queries per request ...")
        queries = json.loads(
            subprocess.run(
                [str(BIN / "python"), str(ROOT / "bench" / "queries.py"), str(home / "seed.json")],
                env=env,
                check=True,
                stdout=subprocess.PIPE,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        env["LAURELS_LOGIN_RATE_PER_IP"] = "100000"
        # One user polls at thousands of requests a second: far past any real app's quota,
        # which is still counted (in batches of 100, as at the default quota).
        env["LAURELS_API_RATE_PER_APP"] = "100000000"
        with running(
            [str(BIN / "laurels"), "serve", "--port", str(port)], env, f"{base}/healthz"
        ) as server:
            SERVER["pid"] = server.pid
            earner = token_for(base, data["earner"], data["password"])
            owner = token_for(base, data["owner"], data["password"])
            log(f"Load on {awards:,} awards: GET scenarios ...")
            results = get_scenarios(base, data, earner, owner, duration)
            if with_writes:
                log("Load: write scenarios ...")
                results.update(write_scenarios(base, data, owner, duration))
            rss = peak_rss_mb(server.pid)
            SERVER["pid"] = None
        return {
            "awards": awards,
            "scenarios": results,
            "queries_per_request": queries,
            "peak_rss_mb": rss,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure_floor(duration: float) -> dict:
    port = free_port()
    command = [
        str(BIN / "granian"),
        "--interface",
        "wsgi",
        "--workers",
        str(WORKERS),
        "--blocking-threads",
        "4",
        "--port",
        str(port),
        "--no-ws",
        "--log-level",
        "warning",
        "--working-dir",
        str(ROOT / "bench"),
        "floor:application",
    ]
    with running(command, dict(os.environ), f"http://127.0.0.1:{port}/") as server:
        log("Load on the floor ...")
        SERVER["pid"] = server.pid
        result = wrk(f"http://127.0.0.1:{port}/", duration)
        SERVER["pid"] = None
        result["peak_rss_mb"] = peak_rss_mb(server.pid)
    return result


# Targets (docs/performance.md): throughput as a share of the floor ...
TARGETS = {
    "assertion_json_warm": 0.5,
    "backpack_list": 0.25,
    "issuer_assertions_deep": 0.25,
    "assertion_json_cold_100k": 0.25,
    "assertion_html_cold_100k": 0.1,
}
# ... the server's CPU milliseconds per request at most ...
CPU_TARGETS = {
    "get_users_self": 1.0,
    "get_issuer": 1.0,
    "get_badge_class": 1.0,
    "get_assertion": 1.0,
    "list_first_page_new_token": 3.0,
}
# ... and, for writers under contention, p99 at most this many times p50, with no errors.
WRITE_SPREAD = 4.0
WORKING_SET_SCENARIOS = ("assertion_json_cold_100k", "assertion_html_cold_100k")


def target_mark(name: str, result: dict, floor: float) -> str:
    """The scenario's target and ok or !! ("" without one; INVALID with errors)."""
    if result.get("non_2xx", 0):
        return "INVALID"  # the load was answered with errors: the rate means nothing
    if name in TARGETS:
        target = TARGETS[name]
        return f"≥{target}x " + ("ok" if result["rps"] / floor >= target else "!!")
    if name in CPU_TARGETS:
        target = CPU_TARGETS[name]
        cpu = result.get("cpu_ms")
        return f"≤{target:g}ms " + ("ok" if cpu is not None and cpu <= target else "!!")
    if name.startswith(("token_refresh_c", "award_single_c")):
        spread = result["p99_ms"] / max(result["p50_ms"], 0.01)
        return f"p99≤{WRITE_SPREAD:g}p50 " + ("ok" if spread <= WRITE_SPREAD else "!!")
    return ""


def report(run: dict) -> None:
    floor = run["floor"]["rps"]
    print(
        f"\nLaurels benchmark, {run['date']}, {run['cpus']} cores, {WORKERS} workers; "
        f"floor {floor:,.0f} req/s (p99 {run['floor']['p99_ms']} ms, "
        f"{run['floor']['cpu_ms']} ms of CPU a request), the median of "
        f"{', '.join(f'{sample:,.0f}' for sample in run['floor_samples'])}\n"
        "cpu ms: the server's user + system CPU time over the requests it answered\n"
    )
    marks = []
    for data_set in run["data_sets"]:
        print(f"{data_set['awards']:,} awards — peak RSS {data_set['peak_rss_mb']} MB")
        print(
            f"  {'scenario':<27}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x floor':>9}"
            f"{'cpu ms':>8}{'target':>16}{'queries':>8}{'non-2xx':>8}{'1-conn p50':>11}"
            f"{'p99':>7}"
        )
        scenarios = data_set["scenarios"]
        for name in WORKING_SET_SCENARIOS:
            if name not in scenarios:
                print(f"  {name:<27}{'n/a (SCALE=100k or 1m)':>34}")
        for name, result in scenarios.items():
            if "rps" not in result:
                continue
            mark = target_mark(name, result, floor)
            if mark:
                marks.append((f"{name} at {data_set['awards']:,}", mark))
            print(
                f"  {name:<27}{result['rps']:>9,.0f}{result.get('p50_ms', ''):>9}"
                f"{result.get('p99_ms', ''):>9}{result['rps'] / floor:>9.2f}"
                f"{result.get('cpu_ms', ''):>8}{mark:>16}"
                f"{data_set['queries_per_request'].get(name, ''):>8}"
                f"{result.get('non_2xx', 0):>8}"
                f"{result.get('light_p50_ms', ''):>11}{result.get('light_p99_ms', ''):>7}"
            )
        batch = scenarios.get("award_batch_10k")
        if batch:
            singles = batch["sequential_single_awards_per_s"]
            ok = "ok" if batch["ratio_to_sequential"] >= 50 else "!!"
            marks.append(("award_batch_10k", f"≥50x singles {ok}"))
            print(
                f"  batch award of 10,000: {batch['awards_per_s']:,.0f} awards/s = "
                f"{batch['ratio_to_sequential']}x the {singles:,.0f}"
                f" awards/s of single awards one after another (target ≥ 50x) {ok}"
            )
    if len(run["data_sets"]) == 2:
        small, big = run["data_sets"]
        print(
            "\np99 at the big data set / p99 at 10k (target ≤ 1.3): one connection "
            "(the scaling check), and under full load"
        )
        for name, result in big["scenarios"].items():
            if name in small["scenarios"] and "p99_ms" in result:
                ratios = [
                    result[figure] / max(small["scenarios"][name][figure], 0.01)
                    for figure in ("light_p99_ms", "p99_ms")
                    if figure in result
                ]
                mark = "ok" if ratios[0] <= 1.3 else "!!"
                marks.append((f"{name} p99 scaling", f"≤1.3 {mark}"))
                print(f"  {name:<26}" + "".join(f"{ratio:>8.2f}" for ratio in ratios) + f"  {mark}")
    missed = [(name, mark) for name, mark in marks if not mark.endswith("ok")]
    print(f"\nTargets: {len(marks) - len(missed)} of {len(marks)} met")
    for name, mark in missed:
        print(f"  {mark:<18} {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=list(SCALES), default="10k")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per scenario")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench does it as root)")
    run = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "workers": WORKERS,
        "data_sets": [],
    }
    # The floor is measured before, between and after the data sets: on a shared machine
    # one sample can be far off, so the ratios use the median of the samples.
    floors = [measure_floor(args.duration)]
    if args.scale != "10k":
        run["data_sets"].append(measure("10k", 10_000, args.duration, with_writes=False))
        floors.append(measure_floor(args.duration))
    run["data_sets"].append(
        measure(args.scale, SCALES[args.scale], args.duration, with_writes=True)
    )
    floors.append(measure_floor(args.duration))
    run["floor_samples"] = [floor["rps"] for floor in floors]
    run["floor"] = {
        "rps": statistics.median(floor["rps"] for floor in floors),
        "p99_ms": round(statistics.median(floor["p99_ms"] for floor in floors), 2),
        "cpu_ms": round(statistics.median(floor.get("cpu_ms", 0) for floor in floors), 3),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(run, indent=2))
    report(run)
    print(f"\nWritten to {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
