"""
Callback-ingest benchmark (issue #3) — run by hand, prints figures, asserts nothing.

    .venv/bin/python bench/mpesa_callbacks.py [--count 3000] [--duration 8] [--rounds 3]

1. Seeds (bench/mpesa_seed.py) `--count` pending STK pushes in the PostgreSQL bench database and writes their success
   callbacks; each callback is then replayed 3 times, the 3×count bodies shuffled into a random order.
2. Serves the app with gunicorn (2 sync workers, DEBUG off) with Redis as cache and Celery broker, as in production:
   a callback request validates the body, stores it in the CallbackLog, enqueues its processing and answers 200.
   With `--eager`, processing (the ledger posting) runs inside the request instead (the development setup).
3. Loads /api/v1/ping/ (the bare authenticated DRF endpoint) and the STK callback URL with wrk (-t1 -c8; a Lua script
   walks the shuffled bodies), `--rounds` × `--duration` seconds each; prints the median rates and their ratio.
4. Starts a Celery worker (2 processes) after the load, waits until every stored callback is processed, prints the
   processing rate, and counts postings: journal entries keyed by the bench receipts must equal the number of
   distinct receipts delivered.

Target: callback rate >= 0.25 of the bare endpoint.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import DB_URL, PY, ROOT, ensure_database, free_port, get_json, load_python, load_wrk, server_env, sh

TARGET = 0.25

LUA = """
local bodies = {}
local i = 0
local f = assert(io.open("%(bodies)s", "r"))
for line in f:lines() do bodies[#bodies + 1] = line end
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  if i > #bodies then i = 1 end
  return wrk.format("POST", "%(path)s", nil, bodies[i])
end
"""


def load_callbacks_wrk(port: int, path: str, lines_file: str, seconds: float) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % {"bodies": lines_file, "path": path})
    return load_wrk(port, path, None, seconds, script=script.name)


def drain_queue(env: dict, run: str) -> str:
    """Run a Celery worker until every stored callback of this run is processed; return the processing rate
    (measured between the first and the last processed_at, so the worker's start-up is not counted)."""
    import psycopg

    worker = subprocess.Popen(
        [str(Path(PY).parent / "celery"), "-A", "chamahub", "worker", "-c", "2", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    query = (
        "SELECT count(*) FILTER (WHERE outcome = 'received'), count(*), min(processed_at), max(processed_at)"
        " FROM mpesa_integration_callbacklog WHERE correlation_id LIKE %s"
    )
    deadline = time.monotonic() + 900
    try:
        with psycopg.connect(DB_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            while True:
                pending, total, first, last = conn.execute(query, (f"ws_CO_B{run}%",)).fetchone()
                if pending == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    seconds = max((last - first).total_seconds(), 0.001) if first and last else 0.001
    rate = total / seconds
    return f"worker (2 processes) processed {total} callbacks in {seconds:.1f}s: {rate:.0f}/s; left {pending}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=3000, help="distinct callbacks (each replayed 3 times)")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--eager", action="store_true", help="process callbacks inside the request (no broker)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed for this benchmark (Debian: apt-get install wrk)")

    env = server_env()
    env["MPESA_CALLBACK_SECRET"] = "bench-callback-secret-0123456789"
    if not args.eager:
        env.update(REDIS_URL=args.redis, CELERY_BROKER_URL=args.redis, CACHE_KEY_PREFIX="chamahub-bench")
    ensure_database()
    sh(PY, "manage.py", "migrate", "--noinput", env=env)
    work = Path(tempfile.mkdtemp(prefix="chamahub-mpesa-bench-"))
    bodies_file = work / "bodies.json"
    seeded = sh(PY, "bench/mpesa_seed.py", str(args.count * args.rounds), str(bodies_file), env=env).strip()
    ids = dict(re.findall(r"(\w+)=(\S+)", seeded.splitlines()[-1]))
    bodies = json.loads(bodies_file.read_text())
    # One slice of distinct callbacks per round (each replayed 3 times, shuffled), so every round ingests new ones.
    slices = [bodies[r * args.count : (r + 1) * args.count] for r in range(args.rounds)]
    rng = random.Random(3)
    files = []
    for r, chunk in enumerate(slices):
        lines = [json.dumps(b, separators=(",", ":")) for b in chunk for _ in range(3)]
        rng.shuffle(lines)
        path = work / f"round{r}.lines"
        path.write_text("\n".join(lines) + "\n")
        files.append(str(path))

    port = free_port()
    gunicorn = subprocess.Popen(
        [str(Path(PY).parent / "gunicorn"), "chamahub.wsgi:application", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    callback_path = f"/api/v1/mpesa/callbacks/{env['MPESA_CALLBACK_SECRET']}/stk/"
    try:
        for _ in range(100):
            try:
                if get_json(port, "/health/")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        status, tokens = get_json(
            port, "/api/v1/token/", method="POST", body={"phone_number": ids["TREASURER"], "password": "bench-pass-123"}
        )
        assert status == 200, tokens
        token = tokens["access"]
        load = load_wrk if shutil.which("wrk") else load_python
        load(port, "/api/v1/ping/", token, 1)  # warm-up
        bare, ingest = [], []
        for r in range(args.rounds):
            bare.append(load(port, "/api/v1/ping/", token, args.duration))
            ingest.append(load_callbacks_wrk(port, callback_path, files[r], args.duration))
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=20)
    drain = "" if args.eager else drain_queue(env, ids["RUN"])

    check = f"""
import os, django
os.environ["DJANGO_SETTINGS_MODULE"] = "chamahub.settings.base"
django.setup()
from finance.models import JournalEntry
from mpesa_integration.models import CallbackLog, MPesaTransaction
run = {ids["RUN"]!r}
logs = CallbackLog.objects.filter(correlation_id__startswith="ws_CO_B" + run)
delivered = logs.values("correlation_id").distinct().count()
receipts = list(MPesaTransaction.objects.filter(checkout_request_id__startswith="ws_CO_B" + run, status="succeeded")
                .values_list("receipt_number", flat=True))
postings = JournalEntry.objects.filter(reference__in=receipts).count()
outcomes = {{o: logs.filter(outcome=o).count() for o in ("processed", "duplicate", "received", "orphan")}}
print(f"CHECK delivered={{delivered}} succeeded={{len(receipts)}} postings={{postings}}",
      f"callbacks={{logs.count()}} {{outcomes}}")
"""
    result = subprocess.run([PY, "-c", check], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    bare_rate, ingest_rate = statistics.median(bare), statistics.median(ingest)
    ratio = ingest_rate / bare_rate
    print(f"gunicorn 2 workers, PostgreSQL, wrk -t1 -c8, {args.rounds} rounds x {args.duration:.0f}s")
    print(f"bare DRF (ping)      {bare_rate:8.0f} req/s   rounds: {', '.join(f'{x:.0f}' for x in bare)}")
    print(f"STK callback ingest  {ingest_rate:8.0f} req/s   rounds: {', '.join(f'{x:.0f}' for x in ingest)}")
    verdict = "OK" if ratio >= TARGET else "BELOW TARGET"
    print(f"ratio {ratio:.2f} (target {TARGET:.2f}) {verdict}")
    print(result.strip().replace("CHECK ", "ledger: "))
    if drain:
        print(drain)


if __name__ == "__main__":
    main()
