"""/api/v1/finance/ — each area registers its viewsets on the one router."""

from rest_framework.routers import DefaultRouter

from finance.views import book_routes, ledger_routes, loan_routes

router = DefaultRouter()
ledger_routes.register(router)
book_routes.register(router)
loan_routes.register(router)

urlpatterns = router.urls
