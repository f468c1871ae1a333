"""
Statement reconciliation benchmark against PostgreSQL — prints figures, asserts nothing.

    .venv/bin/python bench/mpesa_reconcile.py [--rows 100000] [--seed 2026] [--rate 0.01] [--no-trace]

1. Creates the database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/chamahub_bench) and
   migrates it (bench/run.py helpers).
2. Seed (idempotent, a subprocess): the group "BENCHRC" with a treasurer, and --rows succeeded MPesaTransactions in
   it built from SyntheticStatement.payments() (bulk_create once; reused when present). Each run first removes the
   previous bench reconciliations of the group and clears the receipts they filled in, so runs are comparable.
3. Writes the --rows-line statement CSV (SyntheticStatement.rows(): about --rate of each exception kind, see
   mpesa_integration/tests/statement_fixtures.py) aligned with those transactions.
4. Runs `reconciliation_create` in a fresh subprocess (committed, then reset): wall time of the call (including the
   commit), the service's own duration_ms, the subprocess's peak RSS (ru_maxrss) before and after, and the counts
   next to the expected ones.
5. Unless --no-trace: the same call again in another fresh subprocess under tracemalloc (Python allocations only,
   slower under tracing; rolled back), for its peak.

Target (brief D): < 15 s and < 300 MB for 100,000 rows x 100,000 transactions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CODE = "BENCHRC"
PASSWORD = "bench-pass-123"
NO_RECEIPT_MARK = "bench:no-receipt"  # transaction_desc of seeded transactions created without a receipt
EXPECTED_KEYS = ("matched", "amount_mismatch", "missing_in_chamahub", "missing_in_statement")


# ----------------------------------------------------------------------------------------------------------------
# Child phases (run with Django set up, in their own process)


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chamahub.settings.base")
    import django

    django.setup()


def _group_get_or_create():
    from decimal import Decimal

    from django.contrib.auth.hashers import make_password

    from accounts.models import User
    from groups.choices import Role
    from groups.models import ChamaGroup
    from groups.services import group_create, membership_activate

    phones = ("+254719200000", "+254719200001")
    users = [
        User.objects.filter(phone_number=phone).first()
        or User.objects.create(
            phone_number=phone, password=make_password(PASSWORD), first_name="Bench", last_name=phone[-4:]
        )
        for phone in phones
    ]
    group = ChamaGroup.objects.filter(code=CODE).first()
    if group is None:
        group = group_create(
            creator=users[0], name="Bench reconciliation chama", code=CODE, contribution_amount=Decimal("500")
        )
        membership_activate(group=group, user=users[1], role=Role.TREASURER)
    return group, users[1]


def _reset(group_id: int) -> None:
    """Forget earlier bench reconciliations of the group and the receipts they taught its transactions."""
    from mpesa_integration.models import MPesaTransaction, PaymentReconciliation, ReconciliationException

    ReconciliationException.objects.filter(group_id=group_id).delete()
    PaymentReconciliation.objects.filter(group_id=group_id).delete()
    MPesaTransaction.objects.filter(group_id=group_id, transaction_desc=NO_RECEIPT_MARK).exclude(
        receipt_number=None
    ).update(receipt_number=None)


def phase_seed(rows: int, seed: int, rate: float) -> dict:
    _django()
    from django.db import transaction

    from mpesa_integration.choices import Purpose, TransactionKind, TransactionStatus
    from mpesa_integration.models import MPesaTransaction
    from mpesa_integration.tests.statement_fixtures import SyntheticStatement

    group, treasurer = _group_get_or_create()
    data = SyntheticStatement(rows, seed=seed, rate=rate)
    existing = MPesaTransaction.objects.filter(group=group).count()
    started = time.perf_counter()
    created = 0
    if existing != data.expected["payments"]:
        with transaction.atomic():
            _reset(group.id)
            MPesaTransaction.objects.filter(group=group).delete()
            batch: list[MPesaTransaction] = []
            for payment in data.payments():
                batch.append(
                    MPesaTransaction(
                        kind=TransactionKind.B2C if payment.direction == "out" else TransactionKind.STK,
                        group=group,
                        phone=payment.phone,
                        amount=payment.amount,
                        purpose=Purpose.OTHER,
                        account_reference=CODE,
                        transaction_desc="" if payment.receipt else NO_RECEIPT_MARK,
                        receipt_number=payment.receipt,
                        status=TransactionStatus.SUCCEEDED,
                        result_code="0",
                        transaction_date=payment.at,
                        completed_at=payment.at,
                    )
                )
                if len(batch) == 5000:
                    created += len(MPesaTransaction.objects.bulk_create(batch))
                    batch = []
            created += len(MPesaTransaction.objects.bulk_create(batch))
    else:
        _reset(group.id)
    return {
        "group": group.id,
        "treasurer": treasurer.id,
        "transactions": MPesaTransaction.objects.filter(group=group).count(),
        "created": created,
        "seed_seconds": round(time.perf_counter() - started, 2),
        "expected": data.expected,
    }


def phase_run(group_id: int, user_id: int, path: str, trace: bool) -> dict:
    import resource
    import tracemalloc

    _django()
    from django.db import connection, transaction

    from accounts.models import User
    from mpesa_integration.services.reconciliation import reconciliation_create

    actor = User.objects.get(pk=user_id)
    connection.ensure_connection()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    class Rollback(Exception):
        pass

    out: dict = {"rss_before_mb": round(rss_before, 1)}
    if trace:
        tracemalloc.start()
        started = time.perf_counter()
        try:
            with transaction.atomic(), open(path, "rb") as handle:
                reconciliation = reconciliation_create(
                    actor=actor, group_id=group_id, file=handle, file_name=Path(path).name
                )
                raise Rollback
        except Rollback:
            pass
        out["seconds"] = round(time.perf_counter() - started, 2)
        out["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 1)
        tracemalloc.stop()
    else:
        started = time.perf_counter()
        with open(path, "rb") as handle:
            reconciliation = reconciliation_create(
                actor=actor, group_id=group_id, file=handle, file_name=Path(path).name
            )  # its own transaction.atomic: committed before the clock stops
        out["seconds"] = round(time.perf_counter() - started, 2)
    out["rss_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["duration_ms"] = reconciliation.duration_ms
    out["counts"] = {
        "rows_total": reconciliation.rows_total,
        "rows_skipped": reconciliation.rows_skipped,
        "matched": reconciliation.matched_count,
        "amount_mismatch": reconciliation.amount_mismatch_count,
        "missing_in_chamahub": reconciliation.missing_in_chamahub_count,
        "missing_in_statement": reconciliation.missing_in_statement_count,
        "open_exceptions": reconciliation.open_exceptions,
        "matched_amount": str(reconciliation.matched_amount),
        "statement_total": str(reconciliation.statement_total),
    }
    if not trace:
        from mpesa_integration.models import MPesaTransaction, ReconciliationException

        out["exceptions_written"] = ReconciliationException.objects.filter(reconciliation=reconciliation).count()
        out["receipts_filled"] = MPesaTransaction.objects.filter(
            group_id=group_id, transaction_desc=NO_RECEIPT_MARK, receipt_number__isnull=False
        ).count()
    return out


def phase_reset(group_id: int) -> dict:
    _django()
    _reset(group_id)
    return {"reset": group_id}


# ----------------------------------------------------------------------------------------------------------------
# Orchestration


def _child(env: dict, *args: str) -> dict:
    """Run one phase of this script in a fresh interpreter and return the JSON it printed last."""
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--phase", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        sys.exit(f"phase {args[0]} failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1].split("RESULT=", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rate", type=float, default=0.01)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        name, *rest = args.phase
        if name == "seed":
            result = phase_seed(int(rest[0]), int(rest[1]), float(rest[2]))
        elif name == "run":
            result = phase_run(int(rest[0]), int(rest[1]), rest[2], rest[3] == "1")
        else:
            result = phase_reset(int(rest[0]))
        print("RESULT=" + json.dumps(result))
        return

    from bench.run import DB_URL, ensure_database, server_env, sh

    env = server_env()
    env["LOG_LEVEL"] = "WARNING"
    ensure_database()
    sh(sys.executable, "manage.py", "migrate", "--noinput", env=env)
    print(f"database: {DB_URL}")

    seeded = _child(env, "seed", str(args.rows), str(args.seed), str(args.rate))
    print(
        f"group {CODE} (id {seeded['group']}): {seeded['transactions']:,} succeeded transactions"
        + (f" (created {seeded['created']:,} in {seeded['seed_seconds']} s)" if seeded["created"] else " (reused)")
    )
    expected = seeded["expected"]

    from mpesa_integration.tests.statement_fixtures import SyntheticStatement, statement_csv_write

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"statement-{args.rows}.csv"
        started = time.perf_counter()
        written = statement_csv_write(path, SyntheticStatement(args.rows, seed=args.seed, rate=args.rate).rows())
        print(
            f"statement: {written:,} lines, {path.stat().st_size / 1e6:.1f} MB CSV, "
            f"written in {time.perf_counter() - started:.2f} s"
        )

        ids = (str(seeded["group"]), str(seeded["treasurer"]), str(path))
        started = time.perf_counter()
        plain = _child(env, "run", *ids, "0")
        subprocess_seconds = time.perf_counter() - started
        _child(env, "reset", str(seeded["group"]))
        traced = None if args.no_trace else _child(env, "run", *ids, "1")
        _child(env, "reset", str(seeded["group"]))

    print(
        f"reconciliation_create: {plain['seconds']:.2f} s wall, committed "
        f"(service duration_ms {plain['duration_ms']:,}; subprocess incl. Django start-up {subprocess_seconds:.2f} s)"
    )
    print(
        f"subprocess peak RSS (ru_maxrss): {plain['rss_peak_mb']:.1f} MB (after Django start-up "
        f"{plain['rss_before_mb']:.1f} MB, growth {plain['rss_peak_mb'] - plain['rss_before_mb']:.1f} MB)"
    )
    if traced is not None:
        print(
            f"tracemalloc peak (Python allocations of the call): {traced['tracemalloc_peak_mb']:.1f} MB "
            f"(run under tracing: {traced['seconds']:.2f} s, rolled back)"
        )
    counts = plain["counts"]
    print(
        f"rows: {counts['rows_total']:,} total, {counts['rows_skipped']:,} skipped "
        f"(expected {expected['skipped_not_completed']:,})"
    )
    print("counts (actual / expected):")
    for key in EXPECTED_KEYS:
        print(f"  {key:22} {counts[key]:>8,} / {expected[key]:>8,}")
    print(f"  {'open_exceptions':22} {counts['open_exceptions']:>8,}")
    print(f"  exception rows written {plain['exceptions_written']:>8,}")
    print(f"  receipts filled in     {plain['receipts_filled']:>8,} (phone matches: {expected['matched_by_phone']:,})")
    print(f"  matched_amount         {counts['matched_amount']:>14}")
    print(f"  statement_total        {counts['statement_total']:>14}")
    print("target: < 15 s and < 300 MB")


if __name__ == "__main__":
    main()
