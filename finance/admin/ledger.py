"""Admin for ledger accounts, journal entries and postings (read-only)."""
