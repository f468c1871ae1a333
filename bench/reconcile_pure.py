"""
Statement reconciliation benchmark, pure Python (no database, no Django) — prints figures, asserts nothing.

    .venv/bin/python bench/reconcile_pure.py [--rows 100000] [--seed 2026] [--rate 0.01] [--window 10]

1. Streams a synthetic M-Pesa org statement of --rows lines to a temporary CSV (portal layout, with about
   --rate of each exception kind injected: amount/direction mismatch, row without payment, payment without row,
   same phone+amount outside the window, payment outside the statement's period, Failed row; plus 3 x --rate
   each of receipt-less payments to be matched by full and by masked phone). See SyntheticStatement.
2. Builds the matching ChamaHub payments as OurPayment objects.
3. Times parse_statement + reconcile (the parser streams straight into reconcile) and reports elapsed seconds
   and the growth of the process's peak RSS (ru_maxrss) over the run, including the payments list.
4. Runs the same again under tracemalloc and reports its peak (Python allocations only; the run is slower
   under tracing, so its time is printed separately), then prints the bucket counts next to the expected ones.

Target (brief B): 100,000 rows x 100,000 payments well under 5 s and 200 MB.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpesa_integration.matching import ReconcileResult, reconcile
from mpesa_integration.statements import parse_statement
from mpesa_integration.tests.statement_fixtures import SyntheticStatement, statement_csv_write

BUCKETS = (
    "matched",
    "matched_by_receipt",
    "matched_by_phone",
    "amount_mismatch",
    "missing_in_chamahub",
    "missing_in_statement",
    "out_of_range",
)


def maxrss_mb() -> float:
    """Peak resident set size of this process so far, in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(path: Path, data: SyntheticStatement, window: timedelta) -> tuple[ReconcileResult, dict[str, float]]:
    """Build the payments, then parse + reconcile; return the result and timings (seconds)."""
    t0 = time.perf_counter()
    payments = list(data.payments())
    t1 = time.perf_counter()
    with open(path, "rb") as handle, parse_statement(handle, path.name) as reader:
        result = reconcile(reader, payments, window=window)
        summary = reader.summary
    t2 = time.perf_counter()
    return result, {
        "build_payments": t1 - t0,
        "payments": len(payments),
        "parse_reconcile": t2 - t1,
        "rows": summary.rows,
        "skipped": summary.skipped_not_completed,
    }


def parse_only(path: Path) -> float:
    """Seconds to stream the statement through the parser without keeping the rows."""
    start = time.perf_counter()
    with open(path, "rb") as handle, parse_statement(handle, path.name) as reader:
        for _row in reader:
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rate", type=float, default=0.01, help="share of each exception kind (default 0.01)")
    parser.add_argument("--window", type=float, default=10, help="phone-match window in minutes (default 10)")
    args = parser.parse_args()
    window = timedelta(minutes=args.window)

    data = SyntheticStatement(args.rows, seed=args.seed, rate=args.rate)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "statement.csv"
        start = time.perf_counter()
        written = statement_csv_write(path, data.rows())
        print(
            f"statement: {written:,} lines, {os.path.getsize(path) / 1e6:.1f} MB CSV, "
            f"written in {time.perf_counter() - start:.2f} s"
        )
        gc.collect()

        rss_before = maxrss_mb()
        result, timing = run(path, data, window)
        rss_after = maxrss_mb()
        print(f"payments: {timing['payments']:,.0f} built in {timing['build_payments']:.2f} s (not timed below)")
        print(
            f"parse + reconcile: {timing['parse_reconcile']:.2f} s "
            f"({timing['rows']:,.0f} rows kept, {timing['skipped']:,.0f} non-Completed skipped)"
        )
        print(
            f"peak RSS growth (ru_maxrss delta, incl. payments list): {rss_after - rss_before:.1f} MB "
            f"(process peak {rss_after:.1f} MB)"
        )
        print(f"parse only (streamed, rows discarded): {parse_only(path):.2f} s")

        del result
        gc.collect()
        tracemalloc.start()
        result, timing = run(path, data, window)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"tracemalloc peak (payments + parse + reconcile): {peak / 1e6:.1f} MB "
            f"(run under tracing: {timing['parse_reconcile']:.2f} s)"
        )

    print("buckets (actual / expected):")
    for name in BUCKETS:
        value = getattr(result, name)
        actual = len(value) if isinstance(value, list) else value
        print(f"  {name:22} {actual:>8,} / {data.expected[name]:>8,}")
    print(f"  statement_total        {result.statement_total:>14,}")
    print(f"  matched_amount         {result.matched_amount:>14,}")


if __name__ == "__main__":
    main()
