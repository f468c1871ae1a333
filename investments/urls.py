"""Routes under /api/v1/investments/."""

from rest_framework.routers import DefaultRouter

from investments.views import InvestmentTransactionViewSet, InvestmentViewSet, PortfolioViewSet, StockHoldingViewSet

router = DefaultRouter()
router.register("investments", InvestmentViewSet, basename="investment")
router.register("stock-holdings", StockHoldingViewSet, basename="stock-holding")
router.register("portfolios", PortfolioViewSet, basename="portfolio")
router.register("investment-transactions", InvestmentTransactionViewSet, basename="investment-transaction")

urlpatterns = router.urls
