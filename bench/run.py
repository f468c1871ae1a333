"""
ChamaHub benchmark — run by hand, prints figures; nothing here is asserted in the test suite.

    make bench                  # or: .venv/bin/python bench/run.py [--duration 6] [--rounds 3] [--skip-seed]

What it does, on this machine only (loopback):
1. Creates the PostgreSQL database `chamahub_bench` (BENCH_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/chamahub_bench), migrates it and seeds one large group
   (bench/seed_large.py: 1,000 members x 24 months = 24,000 contributions, 2,000 loans with repayments).
2. Serves it with gunicorn, 2 sync workers, persistent DB connections, DEBUG off.
3. Loads each endpoint with wrk (-t1 -c8) if installed, else a bounded Python keep-alive client, for
   `--duration` seconds per round, interleaving the endpoints over `--rounds` rounds, and reports the median
   requests/second of each next to the bare authenticated DRF endpoint (/api/v1/ping/) as a ratio.
4. Counts each endpoint's SQL queries at page sizes 5 and 50 (in-process, same database).

Targets (issue #2): contribution detail >= 0.45, contributions list (20/page) >= 0.35,
member statement and group summary >= 0.25 of the bare endpoint; equal query counts at both page sizes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chamahub_bench")
TARGETS = {"contribution detail": 0.45, "contributions list": 0.35, "member statement": 0.25, "group summary": 0.25}


def sh(*args: str, env: dict | None = None) -> str:
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return out.stdout


def ensure_database() -> None:
    import psycopg

    url = urlparse(DB_URL)
    name = url.path.lstrip("/")
    admin = f"host={url.hostname} port={url.port or 5432} user={url.username or 'postgres'} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env() -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DB_URL,
        DJANGO_SETTINGS_MODULE="chamahub.settings.base",
        DEBUG="0",
        THROTTLE_USER="100000000/min",
        THROTTLE_ANON="100000000/min",
        JWT_ACCESS_MINUTES="120",
        LOG_LEVEL="WARNING",
    )
    env.pop("REDIS_URL", None)
    return env


def get_json(port: int, path: str, token: str | None = None, method: str = "GET", body: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, (json.loads(data) if data else None)


def load_wrk(port: int, path: str, token: str | None, seconds: float, script: str | None = None) -> float:
    """Requests/second of wrk -t1 -c8 on `path` (with a bearer token, and a Lua `script` if given)."""
    command = ["wrk", "-t1", "-c8", f"-d{max(1, round(seconds))}s"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    if script:
        command += ["-s", script]
    out = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{path}: {non2xx.group(1)} non-2xx responses\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def load_python(port: int, path: str, token: str, seconds: float, connections: int = 8) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * connections
    errors: list[str] = []

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors.append(str(resp.status))
                return
            counts[i] += 1
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{path}: HTTP {errors[0]}")
    return sum(counts) / (time.monotonic() - started)


def query_counts(paths: dict[str, str], phone: str) -> dict[str, tuple[int, int]]:
    """SQL queries per request at page sizes 5 and 50 (in a subprocess against the bench DB)."""
    script = f"""
import json, os, django
os.environ["DJANGO_SETTINGS_MODULE"] = "chamahub.settings.base"
django.setup()
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken
from accounts.models import User
user = User.objects.get(phone_number={phone!r})
client = APIClient(); client.credentials(HTTP_AUTHORIZATION="Bearer " + str(RefreshToken.for_user(user).access_token))
paths = {json.dumps(paths)}
out = {{}}
for name, path in paths.items():
    counts = []
    for size in (5, 50):
        sep = "&" if "?" in path else "?"
        cache.clear()  # count every query of a cold request, the cached page total included
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(path + sep + "page_size=" + str(size), HTTP_HOST="localhost")
        assert r.status_code == 200, (path, r.status_code, r.content[:300])
        counts.append(len(ctx.captured_queries))
    out[name] = counts
print("QC=" + json.dumps(out))
"""
    env = server_env()
    out = subprocess.run([PY, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    return {k: tuple(v) for k, v in json.loads(out.split("QC=", 1)[1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    env = server_env()
    ensure_database()
    sh(PY, "manage.py", "migrate", "--noinput", env=env)
    seeded = sh(PY, "bench/seed_large.py", env=env)  # idempotent: reuses the seeded group
    print(seeded.strip())
    ids = dict(re.findall(r"(\w+)=(\S+)", seeded.strip().splitlines()[-1]))
    group, treasurer, member_id = ids["GROUP"], ids["TREASURER"], ids["MEMBER_ID"]

    port = free_port()
    gunicorn = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "chamahub.wsgi:application",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "-",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            try:
                status, _ = get_json(port, "/health/")
                if status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        status, tokens = get_json(
            port, "/api/v1/token/", method="POST", body={"phone_number": treasurer, "password": "bench-pass-123"}
        )
        assert status == 200, tokens
        token = tokens["access"]
        status, page = get_json(port, f"/api/v1/finance/contributions/?group={group}", token)
        assert status == 200, page
        contribution_id = page["results"][0]["id"]
        endpoints = {
            "bare DRF (ping)": "/api/v1/ping/",
            "contribution detail": f"/api/v1/finance/contributions/{contribution_id}/",
            "contributions list": f"/api/v1/finance/contributions/?group={group}",
            "member statement": f"/api/v1/finance/statements/member/?group={group}&member={member_id}",
            "group summary": f"/api/v1/finance/group-summaries/{group}/",
        }
        for name, path in endpoints.items():
            status, body = get_json(port, path, token)
            assert status == 200, (name, status, body)
        load = load_wrk if shutil.which("wrk") else load_python
        print(
            f"load generator: {'wrk -t1 -c8' if load is load_wrk else 'python keep-alive client, 8 connections'}; "
            f"{args.rounds} rounds x {args.duration:.0f}s per endpoint; gunicorn 2 workers; PostgreSQL"
        )
        for path in endpoints.values():  # warm-up
            load(port, path, token, 1)
        rates: dict[str, list[float]] = {name: [] for name in endpoints}
        for _ in range(args.rounds):
            for name, path in endpoints.items():
                rates[name].append(load(port, path, token, args.duration))
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=20)

    counts = query_counts({k: v for k, v in endpoints.items() if k != "bare DRF (ping)"}, treasurer)
    bare = statistics.median(rates["bare DRF (ping)"])
    print(f"\n{'endpoint':<22}{'req/s':>10}{'ratio':>8}{'target':>8}  {'queries@5':>9} {'queries@50':>10}  verdict")
    for name in endpoints:
        rps = statistics.median(rates[name])
        ratio = rps / bare
        target = TARGETS.get(name)
        q5, q50 = counts.get(name, ("-", "-"))
        ok = "" if target is None else ("OK" if ratio >= target and q5 == q50 else "BELOW TARGET")
        tgt = f"{target:.2f}" if target else "-"
        print(f"{name:<22}{rps:>10.0f}{ratio:>8.2f}{tgt:>8}  {q5!s:>9} {q50!s:>10}  {ok}")


if __name__ == "__main__":
    main()
