from finance.admin import ledger, loans  # noqa: F401
