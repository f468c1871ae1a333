"""/api/v1/finance/ — each area registers its viewsets on the one router."""

from chamahub.api.routers import ChamaRouter
from finance.views import book_routes, ledger_routes, loan_routes

router = ChamaRouter()
ledger_routes.register(router)
book_routes.register(router)
loan_routes.register(router)

urlpatterns = router.urls
