"""/api/v1/accounts/wallets/ is served by finance (balances come from the ledger); mounted by chamahub.urls."""

from rest_framework.routers import SimpleRouter

from finance.views import book_routes

router = SimpleRouter()
book_routes.register_wallets(router)

urlpatterns = router.urls
