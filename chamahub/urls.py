"""
URL configuration. Every API lives under /api/v1/<app-prefix>/ through DRF routers.
This module is the composition root: it may import every app's urls.
"""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts.views_auth import LogoutView, PhoneOrEmailTokenObtainPairView, RotatingTokenRefreshView
from chamahub.api.ping import PingView
from chamahub.health import HealthView
from mpesa_integration.urls import hook_urlpatterns

token_urls = [
    path("token/", PhoneOrEmailTokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("token/refresh/", RotatingTokenRefreshView.as_view(), name="token_refresh"),
]

api_v1 = [
    *token_urls,
    path("ping/", PingView.as_view(), name="ping"),
    path("accounts/", include("finance.urls_wallets")),
    path("accounts/", include("accounts.urls")),
    path("groups/", include("groups.urls")),
    path("finance/", include("finance.urls")),
    path("investments/", include("investments.urls")),
    path("mpesa/", include("mpesa_integration.urls")),
    path("payments/", include(hook_urlpatterns)),
]

urlpatterns = [
    path("health/", HealthView.as_view(), name="health"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # Older clients call /api/token/... directly.
    path("api/token/", PhoneOrEmailTokenObtainPairView.as_view(), name="legacy_token_obtain_pair"),
    path("api/token/refresh/", RotatingTokenRefreshView.as_view(), name="legacy_token_refresh"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

handler400 = "chamahub.api.exceptions.json_400"
handler403 = "chamahub.api.exceptions.json_403"
handler404 = "chamahub.api.exceptions.json_404"
handler500 = "chamahub.api.exceptions.json_500"

__all__ = ["LogoutView", "urlpatterns"]
