"""Routes for contributions, fines, the contribution schedule and share-outs."""


def register(router) -> None:
    pass
