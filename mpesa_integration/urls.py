"""Routes under /api/v1/mpesa/ and the neutral C2B hook prefix /api/v1/payments/hooks/ (C2B URLs may not say mpesa)."""

from django.urls import path

from chamahub.api.routers import ChamaRouter
from mpesa_integration import views_callbacks as cb
from mpesa_integration.views import MPesaTransactionViewSet
from mpesa_integration.views_balance import AccountBalanceView
from mpesa_integration.views_bulk import BulkPaymentViewSet
from mpesa_integration.views_reconciliation import PaymentReconciliationViewSet, ReconciliationExceptionViewSet
from mpesa_integration.views_reversals import PaymentReversalViewSet

router = ChamaRouter()
router.register("transactions", MPesaTransactionViewSet, basename="mpesa-transaction")
router.register("bulk-payments", BulkPaymentViewSet, basename="mpesa-bulk-payment")
router.register("reconciliations", PaymentReconciliationViewSet, basename="mpesa-reconciliation")
router.register("reconciliation-exceptions", ReconciliationExceptionViewSet, basename="mpesa-reconciliation-exception")
router.register("reversals", PaymentReversalViewSet, basename="mpesa-reversal")

callback_urlpatterns = [
    path(
        "callbacks/<str:secret>/balance/result/", cb.BalanceResultView.as_view(), name="mpesa-callback-balance-result"
    ),
    path(
        "callbacks/<str:secret>/balance/timeout/",
        cb.BalanceTimeoutView.as_view(),
        name="mpesa-callback-balance-timeout",
    ),
    path("callbacks/<str:secret>/stk/", cb.StkCallbackView.as_view(), name="mpesa-callback-stk"),
    path("callbacks/<str:secret>/b2c/result/", cb.B2CResultView.as_view(), name="mpesa-callback-b2c-result"),
    path("callbacks/<str:secret>/b2c/timeout/", cb.B2CTimeoutView.as_view(), name="mpesa-callback-b2c-timeout"),
    path("callbacks/<str:secret>/status/result/", cb.StatusResultView.as_view(), name="mpesa-callback-status-result"),
    path(
        "callbacks/<str:secret>/status/timeout/", cb.StatusTimeoutView.as_view(), name="mpesa-callback-status-timeout"
    ),
    path(
        "callbacks/<str:secret>/c2b/validation/", cb.C2BValidationView.as_view(), name="mpesa-callback-c2b-validation"
    ),
    path(
        "callbacks/<str:secret>/c2b/confirmation/",
        cb.C2BConfirmationView.as_view(),
        name="mpesa-callback-c2b-confirmation",
    ),
]

urlpatterns = [
    *router.urls,
    path("account-balance/", AccountBalanceView.as_view(), name="mpesa-account-balance"),
    *callback_urlpatterns,
]

# /api/v1/payments/hooks/<secret>/c2b-validate/ and c2b-confirm/: the URLs registered with Safaricom for C2B.
hook_urlpatterns = [
    path("hooks/<str:secret>/c2b-validate/", cb.C2BValidationView.as_view(), name="payments-hook-c2b-validate"),
    path("hooks/<str:secret>/c2b-confirm/", cb.C2BConfirmationView.as_view(), name="payments-hook-c2b-confirm"),
]
