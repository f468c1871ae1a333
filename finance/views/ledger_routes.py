"""Routes for contributions, fines, schedule, statements, transactions, share-out and wallets."""


def register(router) -> None:
    pass


def register_wallets(router) -> None:
    pass
