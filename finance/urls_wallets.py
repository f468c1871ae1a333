"""/api/v1/accounts/wallets/ is served by finance (balances come from the ledger); mounted by chamahub.urls."""

from chamahub.api.routers import ChamaSimpleRouter
from finance.views import book_routes

router = ChamaSimpleRouter()
book_routes.register_wallets(router)

urlpatterns = router.urls
