"""Routes under /api/v1/investments/."""

from chamahub.api.routers import ChamaRouter
from investments.views import InvestmentTransactionViewSet, InvestmentViewSet, PortfolioViewSet, StockHoldingViewSet

router = ChamaRouter()
router.register("investments", InvestmentViewSet, basename="investment")
router.register("stock-holdings", StockHoldingViewSet, basename="stock-holding")
router.register("portfolios", PortfolioViewSet, basename="portfolio")
router.register("investment-transactions", InvestmentTransactionViewSet, basename="investment-transaction")

urlpatterns = router.urls
