"""Routes for statements, the transactions feed, wallets, group summaries, ledger accounts and journal entries."""

from finance.views.books import (
    GroupSummaryViewSet,
    JournalEntryViewSet,
    LedgerAccountViewSet,
    StatementViewSet,
    TransactionViewSet,
    WalletViewSet,
)


def register(router) -> None:
    """/api/v1/finance/: statements/{member,group}/, transactions/, group-summaries/, ledger-accounts/,
    journal-entries/."""
    router.register("statements", StatementViewSet, basename="statement")
    router.register("transactions", TransactionViewSet, basename="transaction")
    router.register("group-summaries", GroupSummaryViewSet, basename="group-summary")
    router.register("ledger-accounts", LedgerAccountViewSet, basename="ledger-account")
    router.register("journal-entries", JournalEntryViewSet, basename="journal-entry")


def register_wallets(router) -> None:
    """/api/v1/accounts/wallets/: list, {group_id}/, my_wallet/ (balances come from the ledger)."""
    router.register("wallets", WalletViewSet, basename="wallet")
