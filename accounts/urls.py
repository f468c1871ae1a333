"""/api/v1/accounts/: users (register, me, passwords, logout). /api/v1/accounts/wallets/ is finance's."""

from rest_framework.routers import DefaultRouter

from accounts.views import UserViewSet

router = DefaultRouter()
router.register("users", UserViewSet, basename="user")

urlpatterns = router.urls
