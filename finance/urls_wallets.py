"""/api/v1/accounts/wallets/ is served by finance (balances come from the ledger); mounted by chamahub.urls."""

from rest_framework.routers import SimpleRouter

from finance.views import ledger_routes

router = SimpleRouter()
ledger_routes.register_wallets(router)

urlpatterns = router.urls
