"""Finance writes. Import from the submodules (finance.services.ledger, ...)."""
