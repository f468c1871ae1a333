"""Finance reads. Import from the submodules (finance.selectors.ledger, ...)."""
