"""Routes for contributions, fines, the contribution schedule and share-outs."""

from finance.views.contributions import ContributionViewSet
from finance.views.fines import FineViewSet
from finance.views.shareout import ShareOutViewSet


def register(router) -> None:
    router.register("contributions", ContributionViewSet, basename="contribution")
    router.register("fines", FineViewSet, basename="fine")
    router.register("share-outs", ShareOutViewSet, basename="share-out")
