"""Routes for statements, the transactions feed, wallets, group summaries, ledger accounts and journal entries."""


def register(router) -> None:
    pass


def register_wallets(router) -> None:
    pass
