from finance.admin import contributions, ledger, loans  # noqa: F401
