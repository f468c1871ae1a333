"""Admin for ledger, contributions, fines, share-outs."""
