"""M-Pesa writes: stk (push, query, sweep), callbacks (store, process), settlement (ledger, suspense), c2b, bulk."""
